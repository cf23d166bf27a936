"""Writes for communities, events and RSVPs. Every rule is checked here before anything is saved."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils.text import slugify

from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Community, CommunityMembership, Event
from members.models import Member

# Sent after a member RSVPs or joins, once the transaction commits (invitations listen).
rsvp_changed = Signal()  # kwargs: rsvp
community_joined = Signal()  # kwargs: membership


def _unique_slug(base: str) -> str:
    root = slugify(base)[:120] or "community"
    slug, n = root, 2
    while Community.objects.filter(slug=slug).exists():
        slug, n = f"{root}-{n}", n + 1
    return slug


@transaction.atomic
def community_create(*, creator: Member, name: str, description: str = "", slug: str = "") -> Community:
    """Create a community; its creator becomes its host."""
    name = name.strip()
    if not name:
        raise InvalidInputError("A community needs a name.", field="name")
    slug = slugify(slug.strip()) if slug.strip() else _unique_slug(name)
    if Community.objects.filter(slug=slug).exists():
        raise InvalidInputError("That address is already taken; pick another.", field="slug")
    try:
        with transaction.atomic():
            community = Community.objects.create(
                name=name, slug=slug, description=description.strip(), created_by=creator
            )
    except IntegrityError as exc:  # a concurrent create took the slug
        raise InvalidInputError("That address is already taken; pick another.", field="slug") from exc
    CommunityMembership.objects.create(community=community, member=creator, role=CommunityMembership.Role.HOST)
    return community


@transaction.atomic
def community_join(*, community: Community, member: Member) -> CommunityMembership:
    membership, created = CommunityMembership.objects.get_or_create(community=community, member=member)
    if created:
        transaction.on_commit(lambda: community_joined.send(sender=CommunityMembership, membership=membership))
    return membership


@transaction.atomic
def community_leave(*, community: Community, member: Member) -> None:
    membership = CommunityMembership.objects.select_for_update().filter(community=community, member=member).first()
    if membership is None:
        return
    if membership.role == CommunityMembership.Role.HOST:
        other_hosts = community.memberships.filter(role=CommunityMembership.Role.HOST).exclude(pk=membership.pk)
        if not other_hosts.exists():
            raise NotAllowedError("You host this community, so you cannot leave it.")
    membership.delete()


def _validate_event(
    *,
    host: Member,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    venue: str,
    online_url: str,
    community: Community | None,
) -> None:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError("Pick a valid time zone.", field="time_zone") from exc
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInputError("Start and end need a time zone.", field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInputError("The event must end after it starts.", field="ends_at")
    if not venue.strip() and not online_url.strip():
        raise InvalidInputError("Give a place, an online link, or both.", field="venue")
    if community is not None and not community.memberships.filter(member=host).exists():
        raise NotAllowedError("You can only add events to communities you belong to.")


@transaction.atomic
def event_create(
    *,
    host: Member,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str = "UTC",
    description: str = "",
    venue: str = "",
    online_url: str = "",
    community: Community | None = None,
) -> Event:
    if not title.strip():
        raise InvalidInputError("An event needs a title.", field="title")
    _validate_event(
        host=host, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone,
        venue=venue, online_url=online_url, community=community,
    )
    return Event.objects.create(
        host=host, title=title.strip(), description=description.strip(), starts_at=starts_at, ends_at=ends_at,
        time_zone=time_zone, venue=venue.strip(), online_url=online_url.strip(), community=community,
    )


@transaction.atomic
def event_update(*, event: Event, editor: Member, **changes) -> Event:
    """Change an event's details; only its host may."""
    if event.host_id != editor.pk:
        raise NotAllowedError("Only the host can edit this event.")
    allowed = {"title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url", "community"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"Unknown fields: {', '.join(sorted(unknown))}")
    merged = {name: changes.get(name, getattr(event, name)) for name in allowed}
    if not str(merged["title"]).strip():
        raise InvalidInputError("An event needs a title.", field="title")
    _validate_event(
        host=editor, starts_at=merged["starts_at"], ends_at=merged["ends_at"], time_zone=merged["time_zone"],
        venue=merged["venue"], online_url=merged["online_url"], community=merged["community"],
    )
    for name, value in merged.items():
        setattr(event, name, value.strip() if isinstance(value, str) else value)
    event.save()
    return event


@transaction.atomic
def rsvp_set(*, event: Event, member: Member, status: str) -> RSVP:
    """Record or change a member's answer; counts are refreshed by a worker after commit."""
    if status not in RSVP.Status.values:
        raise InvalidInputError("Choose going, maybe or not going.", field="status")
    rsvp, _created = RSVP.objects.update_or_create(event=event, member=member, defaults={"status": status})
    from elonara.tasks import event_refresh_counts  # tasks import services: avoid the cycle at import time

    event_id = event.pk
    transaction.on_commit(lambda: event_refresh_counts.delay(event_id))
    transaction.on_commit(lambda: rsvp_changed.send(sender=RSVP, rsvp=rsvp))
    return rsvp


# The home page's "Upcoming events" fragment is cached (it is most of the page's CPU). Any change to
# an event, its counts or its community's name drops it after commit; the timeout bounds how long
# an event that just ended can stay listed.
UPCOMING_CACHE_SECONDS = 60


def upcoming_events_cache_clear() -> None:
    from django.core.cache import cache
    from django.core.cache.utils import make_template_fragment_key

    cache.delete_many([make_template_fragment_key("home_upcoming", [signed_in]) for signed_in in (True, False)])


def upcoming_events_changed() -> None:
    """Call inside the write's transaction: the fragment is dropped once the change is visible."""
    transaction.on_commit(upcoming_events_cache_clear)


def event_recount(*, event_id: int) -> Event | None:
    """Recompute the denormalised attendance counts shown on listings."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return None
    rows = RSVP.objects.filter(event=event).values("status").annotate(n=Count("id"))
    counts = {row["status"]: row["n"] for row in rows}
    Event.objects.filter(pk=event_id).update(
        going_count=counts.get(RSVP.Status.GOING, 0), maybe_count=counts.get(RSVP.Status.MAYBE, 0)
    )
    upcoming_events_changed()
    event.refresh_from_db()
    return event

