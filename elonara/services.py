"""Writes for communities, events and RSVPs. Every rule is checked here before anything is saved."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone
from django.utils.text import slugify

from core.tasks import task_on_commit
from elonara import atrecords, publishing
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.images import ProcessedImage, cover_image_process
from elonara.models import RSVP, CalendarFeed, Community, CommunityMembership, Event
from members.models import Member

# Sent after a member RSVPs or joins, once the transaction commits (invitations listen).
rsvp_changed = Signal()  # kwargs: rsvp
community_joined = Signal()  # kwargs: membership


# --- wall-clock times in an event's zone ---------------------------------------------------------

WALL_CLOCK_FORMAT = "%H:%M"


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _transition_near(value: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the zone's change of offset around this wall-clock time (to the second)."""
    low = value.replace(tzinfo=zone, fold=0).astimezone(ZoneInfo("UTC")) - timedelta(hours=3)
    high = low + timedelta(hours=6)
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class RepeatedTime:
    """A wall-clock time that happens twice (clocks going back): the two instants, earlier first."""

    earlier: datetime
    later: datetime


def wall_clock_resolve(*, value: datetime, zone_name: str, fold: int | None = None, field: str = "starts_at"
                       ) -> datetime | RepeatedTime:
    """The instant a wall-clock time names in a zone.

    A time inside a forward jump does not exist: refused, naming the jump (else it would be stored
    silently as an hour later). A time in a repeated hour happens twice: with `fold` None the two
    instants are returned for the caller to ask which one; `fold` 0 picks the first, 1 the second.
    """
    zone = ZoneInfo(zone_name)
    naive = value.replace(tzinfo=None)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    utc = ZoneInfo("UTC")
    round_trip = first.astimezone(utc).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        # In the gap: fold=0 has the offset before the jump, fold=1 the one after.
        change = _transition_near(naive, zone)
        jump_from = (change + first.utcoffset()).replace(tzinfo=None)
        jump_to = change.astimezone(zone).replace(tzinfo=None)
        raise InvalidInputError(
            f"{naive:%H:%M} does not exist on {naive:%d %B %Y} in {zone_name}: clocks jump from "
            f"{jump_from:%H:%M} to {jump_to:%H:%M} ({_offset_text(first.utcoffset())} to "
            f"{_offset_text(second.utcoffset())}). Pick a time outside the jump.", field=field)
    if fold in (0, 1):
        return naive.replace(tzinfo=zone, fold=fold)
    earlier, later = sorted((first, second), key=lambda d: d.astimezone(utc))
    return RepeatedTime(earlier=earlier, later=later)


def repeated_time_question(*, repeated: RepeatedTime, zone_name: str) -> str:
    """The question asked when a wall-clock time happens twice."""
    return (f"{repeated.earlier:%H:%M} happens twice on {repeated.earlier:%d %B %Y} in {zone_name} (clocks go "
            f"back): choose the first ({_offset_text(repeated.earlier.utcoffset())}) or the second "
            f"({_offset_text(repeated.later.utcoffset())}).")


def _unique_slug(base: str) -> str:
    root = slugify(base)[:120] or "community"
    slug, n = root, 2
    while Community.objects.filter(slug=slug).exists():
        slug, n = f"{root}-{n}", n + 1
    return slug


def _cover_image_set(
    *, instance: Community | Event, image: ProcessedImage | None, remove_image: bool = False
) -> None:
    """Store a new cover (already validated by the caller) or drop the current one.

    The replaced file is deleted from storage only once the transaction commits, so a rolled
    back change never leaves a row pointing at a missing file.
    """
    if image is None and not remove_image:
        return
    old_name = instance.image.name if instance.image else ""
    if image is not None:
        instance.image.save(image.content.name, image.content, save=False)
        instance.image_width, instance.image_height = image.width, image.height
    else:
        instance.image = ""
        instance.image_width = instance.image_height = None
        instance.image_alt = ""
    if old_name:
        storage = instance.image.storage
        transaction.on_commit(lambda: storage.delete(old_name))


@transaction.atomic
def community_create(
    *, creator: Member, name: str, description: str = "", slug: str = "", image=None, image_alt: str = ""
) -> Community:
    """Create a community; its creator becomes its host. `image` is an uploaded file (optional)."""
    name = name.strip()
    if not name:
        raise InvalidInputError("A community needs a name.", field="name")
    slug = slugify(slug.strip()) if slug.strip() else _unique_slug(name)
    if Community.objects.filter(slug=slug).exists():
        raise InvalidInputError("That address is already taken; pick another.", field="slug")
    # Checked (and decoded) before anything is written.
    processed = cover_image_process(upload=image) if image is not None else None
    try:
        with transaction.atomic():
            community = Community(
                name=name, slug=slug, description=description.strip(), created_by=creator,
                image_alt=image_alt.strip(),
            )
            _cover_image_set(instance=community, image=processed)
            community.save()
    except IntegrityError as exc:  # a concurrent create took the slug
        raise InvalidInputError("That address is already taken; pick another.", field="slug") from exc
    CommunityMembership.objects.create(community=community, member=creator, role=CommunityMembership.Role.HOST)
    return community


@transaction.atomic
def community_update(
    *,
    community: Community,
    editor: Member,
    name: str | None = None,
    description: str | None = None,
    image_alt: str | None = None,
    image=None,
    remove_image: bool = False,
) -> Community:
    """Change a community's name, description or cover; only its hosts may. The address stays."""
    if not community.memberships.filter(member=editor, role=CommunityMembership.Role.HOST).exists():
        raise NotAllowedError("Only a host can edit this community.")
    if name is not None:
        if not name.strip():
            raise InvalidInputError("A community needs a name.", field="name")
        community.name = name.strip()
    if description is not None:
        community.description = description.strip()
    if image_alt is not None:
        community.image_alt = image_alt.strip()
    processed = cover_image_process(upload=image) if image is not None else None
    _cover_image_set(instance=community, image=processed, remove_image=remove_image)
    community.save()
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
    image=None,
    image_alt: str = "",
    mode: str = "",
    country: str = "",
    locality: str = "",
) -> Event:
    """Publish an event. `image` is an uploaded cover file (optional), validated before any write.

    When the host has a Bluesky account, the event is also written to the host's repository as a
    community.lexicon.calendar.event record (queued on commit, see elonara.publishing)."""
    if not title.strip():
        raise InvalidInputError("An event needs a title.", field="title")
    _validate_event(
        host=host, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone,
        venue=venue, online_url=online_url, community=community,
    )
    mode, country = _validate_place(mode=mode, country=country)
    processed = cover_image_process(upload=image) if image is not None else None
    event = Event(
        host=host, title=title.strip(), description=description.strip(), starts_at=starts_at, ends_at=ends_at,
        time_zone=time_zone, venue=venue.strip(), online_url=online_url.strip(), community=community,
        image_alt=image_alt.strip(), mode=mode, country=country, locality=locality.strip(),
    )
    _cover_image_set(instance=event, image=processed)
    event.save()
    publishing.event_publish_queue(event=event)
    return event


def _validate_place(*, mode: str, country: str) -> tuple[str, str]:
    if mode and mode not in Event.Mode.values:
        raise InvalidInputError("Pick in person, online, or both.", field="mode")
    country = country.strip().upper()
    if country and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise InvalidInputError("Use the two-letter country code (e.g. PT, FR, US).", field="country")
    return mode, country


# What a calendar entry shows: a change to any of these is a new revision (SEQUENCE + 1).
CALENDAR_FIELDS = ("title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url")
# Shown only in the published record (and the page), not in calendar files.
PLACE_FIELDS = ("mode", "country", "locality")


@transaction.atomic
def event_update(*, event: Event, editor: Member, image=None, remove_image: bool = False, **changes) -> Event:
    """Change an event's details and cover; only its host may.

    Each change to what a calendar entry shows raises the event's iCalendar SEQUENCE.
    """
    if event.host_id != editor.pk:
        raise NotAllowedError("Only the host can edit this event.")
    allowed = {*CALENDAR_FIELDS, *PLACE_FIELDS, "community", "image_alt"}
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
    merged["mode"], merged["country"] = _validate_place(mode=merged["mode"], country=merged["country"])
    processed = cover_image_process(upload=image) if image is not None else None
    # Lock the row: two concurrent edits must each get their own SEQUENCE number.
    current = Event.objects.select_for_update().get(pk=event.pk)
    cleaned = {name: value.strip() if isinstance(value, str) else value for name, value in merged.items()}
    if any(cleaned[name] != getattr(current, name) for name in CALENDAR_FIELDS):
        event.sequence = current.sequence + 1
    else:
        event.sequence = current.sequence
    for name, value in cleaned.items():
        setattr(event, name, value)
    _cover_image_set(instance=event, image=processed, remove_image=remove_image)
    event.save()
    publishing.event_publish_queue(event=event)
    return event


@transaction.atomic
def event_cancel(*, event: Event, actor: Member) -> Event:
    """Cancel an event (its host only). It stays visible, marked cancelled, and calendar feeds
    carry STATUS:CANCELLED with a higher SEQUENCE so calendar apps update their copy."""
    if event.host_id != actor.pk:
        raise NotAllowedError("Only the host can cancel this event.")
    current = Event.objects.select_for_update().get(pk=event.pk)
    if current.status != Event.Status.CANCELLED:
        current.status = Event.Status.CANCELLED
        current.cancelled_at = timezone.now()
        current.sequence += 1
        current.save(update_fields=["status", "cancelled_at", "sequence", "updated_at"])
        publishing.event_publish_queue(event=current)
    event.status, event.cancelled_at, event.sequence = current.status, current.cancelled_at, current.sequence
    event.updated_at = current.updated_at
    event.publish_state, event.at_rkey = current.publish_state, current.at_rkey
    return event


@transaction.atomic
def event_delete(*, event: Event, actor: Member) -> None:
    """Delete an event (its host only), with its record in the host's repository and the RSVP
    records members published for it (queued on commit)."""
    if event.host_id != actor.pk:
        raise NotAllowedError("Only the host can delete this event.")
    current = Event.objects.select_for_update().select_related("host").filter(pk=event.pk).first()
    if current is None:
        return
    if current.at_rkey:
        publishing.record_delete_queue(member=current.host, collection=atrecords.EVENT_NSID, rkey=current.at_rkey)
    for rsvp in RSVP.objects.select_related("member").filter(event=current).exclude(at_rkey=""):
        publishing.record_delete_queue(member=rsvp.member, collection=atrecords.RSVP_NSID, rkey=rsvp.at_rkey)
    if current.image:
        storage, name = current.image.storage, current.image.name
        transaction.on_commit(lambda: storage.delete(name))
    current.delete()


@transaction.atomic
def rsvp_set(*, event: Event, member: Member, status: str) -> RSVP:
    """Record or change a member's answer; counts are refreshed by a worker after commit."""
    if status not in RSVP.Status.values:
        raise InvalidInputError("Choose going, maybe or not going.", field="status")
    # Read from the database, not the caller's copy: the host may have just cancelled it.
    if Event.objects.filter(pk=event.pk, status=Event.Status.CANCELLED).exists():
        raise NotAllowedError("This event is cancelled.")
    rsvp, _created = RSVP.objects.update_or_create(event=event, member=member, defaults={"status": status})
    rsvp.event = Event.objects.get(pk=event.pk)
    publishing.rsvp_publish_queue(rsvp=rsvp)
    task_on_commit("elonara.tasks.event_refresh_counts", event.pk)
    transaction.on_commit(lambda: rsvp_changed.send(sender=RSVP, rsvp=rsvp))
    return rsvp


# The home page's "Upcoming events" fragment is cached (it is most of the page's CPU). Any change to
# an event, its counts or its community's name drops it after commit; the timeout bounds how long
# an event that just ended can stay listed.
UPCOMING_CACHE_SECONDS = 60
# The whole home page as an anonymous visitor with no cookie sees it (elonara.views.home).
ANONYMOUS_HOME_CACHE_KEY = "home:anonymous:html"


def upcoming_events_cache_clear() -> None:
    from django.core.cache import cache
    from django.core.cache.utils import make_template_fragment_key

    cache.delete_many([make_template_fragment_key("home_upcoming", [signed_in]) for signed_in in (True, False)]
                      + [ANONYMOUS_HOME_CACHE_KEY])


def member_home_cache_clear(member_ids: list[int]) -> None:
    """Drop those members' cached home lists (elonara.selectors.member_home_lists)."""
    from django.core.cache import cache

    from elonara.selectors import member_home_cache_key

    cache.delete_many([member_home_cache_key(pk) for pk in member_ids])


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



def _feed_token_hash(token: str) -> str:
    # The token has 256 random bits, so a plain SHA-256 is enough (no salt or slow hash needed).
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_issue(*, member: Member) -> tuple[CalendarFeed, str]:
    """Create the member's private calendar feed, or replace its token (the old URL stops working).

    Returns the feed and the secret token. The token is not stored: show it to the member now.
    """
    token = secrets.token_urlsafe(32)
    feed, _created = CalendarFeed.objects.update_or_create(
        member=member, defaults={"token_hash": _feed_token_hash(token), "created_at": timezone.now(),
                                 "last_used_at": None},
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, member: Member) -> bool:
    """Turn the member's private feed off; its URL answers 404 from now on."""
    deleted, _ = CalendarFeed.objects.filter(member=member).delete()
    return bool(deleted)


def calendar_feed_authenticate(*, token: str) -> CalendarFeed | None:
    """The feed a token opens, or None. Records the use at most once an hour (calendar apps poll)."""
    if not token or len(token) > 100:
        return None
    feed = CalendarFeed.objects.select_related("member").filter(token_hash=_feed_token_hash(token)).first()
    if feed is None or not feed.member.is_active:
        return None
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(hours=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
        feed.last_used_at = now
    return feed
