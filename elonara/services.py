"""Writes for communities, events and RSVPs. Every rule is checked here before anything is saved."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from core.i18n import member_language
from core.ratelimit import Limit, RateLimitedError, rate_limit_hit
from core.sql import FixedQuery
from elonara import announcements, atrecords, host_messages, publishing
from elonara.answers import (  # noqa: F401  (the answer services, re-exported)
    Door,
    answer_take,
    event_waitlist_promote,
    rsvp_approve,
    rsvp_changed,
    rsvp_decline,
    rsvp_remove,
)
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.images import ProcessedImage, cover_image_process
from elonara.models import (
    RSVP,
    CalendarFeed,
    Community,
    CommunityBlock,
    CommunityMembership,
    Event,
    EventCohost,
    EventSeries,
)
from elonara.selectors import event_can_manage
from members.models import Member

# Sent after a member joins, once the transaction commits (invitations listen). Answers send
# elonara.answers.rsvp_changed (re-exported here).
community_joined = Signal()  # kwargs: membership
# Sent once an edit that changed an event commits (notifications mails those going when its time or
# place moved), and once a cancellation commits (notifications mails the cancellation).
event_changed = Signal()  # kwargs: before, after
event_cancelled = Signal()  # kwargs: event


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
        jump_from = (change + (first.utcoffset() or timedelta(0))).replace(tzinfo=None)
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


def _cover_upload_process(*, member: Member, image) -> ProcessedImage | None:
    """Count one cover upload for `member`, then check and re-encode it (`cover_image_process`).

    Each upload costs a decode and a stored file: past the `cover_upload` limit it is refused as a
    form error on the image field, so the rest of the form the member typed is kept.
    """
    if image is None:
        return None
    limit = Limit.named("cover_upload")
    try:
        rate_limit_hit(limit=limit, keys=[f"member:{member.pk}"])
    except RateLimitedError as exc:
        window = f"{limit.per_seconds // 60} minutes" if limit.per_seconds >= 120 else f"{limit.per_seconds} seconds"
        raise InvalidInputError(
            f"Too many cover images: at most {limit.count} every {window}. "
            f"{exc.message.removeprefix('Too many attempts. ')} Your other changes are kept below; "
            "save them without a new image, or add it later.",
            field="image",
        ) from exc
    return cover_image_process(upload=image)


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
        raise InvalidInputError(gettext("A community needs a name."), field="name")
    slug = slugify(slug.strip()) if slug.strip() else _unique_slug(name)
    if Community.objects.filter(slug=slug).exists():
        raise InvalidInputError(gettext("That address is already taken; pick another."), field="slug")
    # Checked (and decoded) before anything is written.
    processed = _cover_upload_process(member=creator, image=image)
    try:
        with transaction.atomic():
            community = Community(
                name=name, slug=slug, description=description.strip(), created_by=creator,
                image_alt=image_alt.strip(),
            )
            _cover_image_set(instance=community, image=processed)
            community.save()
    except IntegrityError as exc:  # a concurrent create took the slug
        raise InvalidInputError(gettext("That address is already taken; pick another."), field="slug") from exc
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
        raise NotAllowedError(gettext("Only a host can edit this community."))
    if name is not None:
        if not name.strip():
            raise InvalidInputError(gettext("A community needs a name."), field="name")
        community.name = name.strip()
    if description is not None:
        community.description = description.strip()
    if image_alt is not None:
        community.image_alt = image_alt.strip()
    processed = _cover_upload_process(member=editor, image=image)
    _cover_image_set(instance=community, image=processed, remove_image=remove_image)
    community.save()
    return community


@transaction.atomic
def community_join(*, community: Community, member: Member) -> CommunityMembership:
    if CommunityBlock.objects.filter(community=community, member=member).exists():
        raise NotAllowedError(gettext("The organizers of this community removed you from it; you cannot join it "
                                      "again."))
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
            raise NotAllowedError(gettext("You organize this community, so you cannot leave it (add another organizer "
                                          "first)."))
    membership.delete()


def _organizer_check(*, community: Community, actor: Member) -> None:
    if not community.memberships.filter(member=actor, role=CommunityMembership.Role.HOST).exists():
        raise NotAllowedError(gettext("Only an organizer of this community can do that."))


@transaction.atomic
def community_organizer_set(*, community: Community, actor: Member, member: Member, organizer: bool
                            ) -> CommunityMembership:
    """An organizer makes a member an organizer, or an organizer a plain member again (never the
    last organizer: a community always has one)."""
    _organizer_check(community=community, actor=actor)
    # Locked in a fixed order, so two organizers demoting each other cannot leave none.
    rows = list(CommunityMembership.objects.select_for_update().filter(community=community).order_by("pk"))
    membership = next((m for m in rows if m.member_id == member.pk), None)
    if membership is None:
        raise InvalidInputError(gettext("Only members can be organizers: they join first."), field="member")
    organizers = [m for m in rows if m.role == CommunityMembership.Role.HOST]
    if not organizer and membership.role == CommunityMembership.Role.HOST and len(organizers) == 1:
        raise NotAllowedError(gettext("A community keeps at least one organizer."))
    membership.role = CommunityMembership.Role.HOST if organizer else CommunityMembership.Role.MEMBER
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def community_member_remove(*, community: Community, actor: Member, member: Member, block: bool = True) -> None:
    """An organizer removes a member, blocked from joining again unless `block` is False.
    Organizers are made plain members first (one organizer cannot remove another outright)."""
    _organizer_check(community=community, actor=actor)
    membership = CommunityMembership.objects.select_for_update().filter(community=community, member=member).first()
    if membership is not None and membership.role == CommunityMembership.Role.HOST:
        raise NotAllowedError(gettext("Make them a plain member first: organizers are not removed outright."))
    if membership is not None:
        membership.delete()
    if block:
        CommunityBlock.objects.get_or_create(community=community, member=member, defaults={"blocked_by": actor})


@transaction.atomic
def community_unblock(*, community: Community, actor: Member, member: Member) -> None:
    _organizer_check(community=community, actor=actor)
    CommunityBlock.objects.filter(community=community, member=member).delete()


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
        raise InvalidInputError(gettext("Pick a valid time zone."), field="time_zone") from exc
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInputError(gettext("Start and end need a time zone."), field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInputError(gettext("The event must end after it starts."), field="ends_at")
    if not venue.strip() and not online_url.strip():
        raise InvalidInputError(gettext("Give a place, an online link, or both."), field="venue")
    if community is not None and not community.memberships.filter(
            member=host, role=CommunityMembership.Role.HOST).exists():
        raise NotAllowedError(gettext("Only the community's organizers can add events to it."))


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
    capacity: int | None = None,
    capacity_counts_outside: bool = False,
    requires_approval: bool = False,
    guest_list: str = Event.GuestList.PUBLIC,
    language: str = "",
) -> Event:
    """Publish an event. `image` is an uploaded cover file (optional), validated before any write.
    The host is going to it from the start: their answer (a seat, counted) is made with it.
    `language`: the one it is held in; empty is the host's (core.i18n.member_language).

    When the host has a Bluesky account, the event is also written to the host's repository as a
    community.lexicon.calendar.event record (queued on commit, see elonara.publishing)."""
    if not title.strip():
        raise InvalidInputError(gettext("An event needs a title."), field="title")
    _validate_event(
        host=host, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone,
        venue=venue, online_url=online_url, community=community,
    )
    mode, country = _validate_place(mode=mode, country=country)
    _validate_capacity(capacity=capacity)
    _validate_guest_list(guest_list=guest_list)
    language = _validate_language(language=language, host=host)
    processed = _cover_upload_process(member=host, image=image)
    event = Event(
        host=host, title=title.strip(), description=description.strip(), starts_at=starts_at, ends_at=ends_at,
        time_zone=time_zone, venue=venue.strip(), online_url=online_url.strip(), community=community,
        image_alt=image_alt.strip(), mode=mode, country=country, locality=locality.strip(),
        capacity=capacity, capacity_counts_outside=capacity_counts_outside, requires_approval=requires_approval,
        guest_list=guest_list, language=language, going_count=1,  # the host's own seat, taken just below
    )
    _cover_image_set(instance=event, image=processed)
    event.save()
    answer_take(event=event, member=host, status=RSVP.Status.GOING, door=Door.HOST)
    publishing.event_publish_queue(event=event)
    return event


def _validate_place(*, mode: str, country: str) -> tuple[str, str]:
    if mode and mode not in Event.Mode.values:
        raise InvalidInputError(gettext("Pick in person, online, or both."), field="mode")
    country = country.strip().upper()
    if country and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise InvalidInputError(gettext("Use the two-letter country code (e.g. PT, FR, US)."), field="country")
    return mode, country


def _validate_language(*, language: str, host: Member) -> str:
    if not language:
        return member_language(host)
    if language not in dict(settings.LANGUAGES):
        raise InvalidInputError("Pick one of the languages Elonara speaks.", field="language")
    return language


def _validate_guest_list(*, guest_list: str) -> None:
    if guest_list not in Event.GuestList.values:
        raise InvalidInputError(gettext("Choose who sees the guest list."), field="guest_list")


def _validate_capacity(*, capacity: int | None) -> None:
    if capacity is not None and capacity < 1:
        raise InvalidInputError(gettext("A seat limit is at least 1 (leave it empty for no limit)."), field="capacity")


# What a calendar entry shows: a change to any of these is a new revision (SEQUENCE + 1).
CALENDAR_FIELDS = ("title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url")
# Shown only in the published record (and the page), not in calendar files.
PLACE_FIELDS = ("mode", "country", "locality")
# How answers are taken (neither in calendar files nor in the record).
HOSTING_FIELDS = ("capacity", "capacity_counts_outside", "requires_approval", "guest_list")
# Where the event is listed and in which language it is announced (not in the record: no field).
LISTING_FIELDS = ("language",)


@transaction.atomic
def event_update(*, event: Event, editor: Member, image=None, remove_image: bool = False,
                 announce_reply: bool = False, **changes) -> Event:
    """Change an event's details and cover; its host and co-hosts may.

    Each change to what a calendar entry shows raises the event's iCalendar SEQUENCE. A higher
    seat limit (or none) promotes people from the waiting list at once. `announce_reply`: the
    host asks for a new time to be posted as a reply to the event's announcement post.
    """
    if not event_can_manage(event=event, member=editor):
        raise NotAllowedError(gettext("Only the host or a co-host can edit this event."))
    allowed = {*CALENDAR_FIELDS, *PLACE_FIELDS, *HOSTING_FIELDS, *LISTING_FIELDS, "community", "image_alt"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"Unknown fields: {', '.join(sorted(unknown))}")
    merged = {name: changes.get(name, getattr(event, name)) for name in allowed}
    if not str(merged["title"]).strip():
        raise InvalidInputError(gettext("An event needs a title."), field="title")
    # A community is the host's choice: a co-host's edit is checked against the host's memberships.
    _validate_event(
        host=event.host, starts_at=merged["starts_at"], ends_at=merged["ends_at"], time_zone=merged["time_zone"],
        venue=merged["venue"], online_url=merged["online_url"], community=merged["community"],
    )
    merged["mode"], merged["country"] = _validate_place(mode=merged["mode"], country=merged["country"])
    _validate_capacity(capacity=merged["capacity"])
    _validate_guest_list(guest_list=merged["guest_list"])
    merged["language"] = _validate_language(language=merged["language"] or event.language, host=event.host)
    processed = _cover_upload_process(member=editor, image=image)
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
    moved = (event.starts_at, event.ends_at, event.time_zone) != (current.starts_at, current.ends_at, current.time_zone)
    if announce_reply and editor.pk == event.host_id and moved:
        announcements.announcement_reply_queue(event=event,
                                               text=announcements.reply_text_for_time_change(event=event))
    # Sent before the promotions below queue theirs: a notice of the move is worked out (and the
    # reminders moved) before a promoted guest's own reminder is queued, as when it ran inline.
    transaction.on_commit(partial(event_changed.send, sender=Event, before=current, after=event))
    event_waitlist_promote(event_id=event.pk)
    return event


def member_owned_delete(*, member_id: int) -> None:
    """A member is being deleted (members.signals.member_deleting, inside its transaction): the
    events they host and communities they created go (with their answers, memberships and
    invitations), their cover files from storage once the transaction commits (a rolled back
    deletion keeps them, and the rows pointing at them)."""
    events = Event.objects.filter(host_id=member_id)
    communities = Community.objects.filter(created_by_id=member_id)
    cover_names = [name for name in [*events.values_list("image", flat=True),
                                      *communities.values_list("image", flat=True)] if name]
    events.delete()
    communities.delete()
    storage = Event._meta.get_field("image").storage
    transaction.on_commit(partial(_cover_files_delete, storage=storage, names=cover_names))


def _cover_files_delete(*, storage, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


def _series_exclude(*, event: Event) -> None:
    """A cancelled or deleted occurrence leaves its series: its instant becomes an EXDATE (and
    is not made again when the window is extended)."""
    if event.series_id is None or event.recurrence_id is None:
        return
    series = EventSeries.objects.select_for_update().filter(pk=event.series_id).first()
    if series is None:
        return
    key = event.recurrence_id.astimezone(UTC).isoformat()
    if key not in series.excluded:
        series.excluded = [*series.excluded, key]
        series.sequence += 1
        series.save(update_fields=["excluded", "sequence", "updated_at"])


@transaction.atomic
def event_cancel(*, event: Event, actor: Member, announce_reply: bool = False) -> Event:
    """Cancel an event (its host only). It stays visible, marked cancelled, and calendar feeds
    carry STATUS:CANCELLED with a higher SEQUENCE so calendar apps update their copy.
    `announce_reply`: say so in a reply to the event's announcement post."""
    if event.host_id != actor.pk:
        raise NotAllowedError(gettext("Only the host can cancel this event."))
    current = Event.objects.select_for_update().get(pk=event.pk)
    if current.status != Event.Status.CANCELLED:
        current.status = Event.Status.CANCELLED
        current.cancelled_at = timezone.now()
        current.sequence += 1
        current.save(update_fields=["status", "cancelled_at", "sequence", "updated_at"])
        publishing.event_publish_queue(event=current)
        transaction.on_commit(partial(event_cancelled.send, sender=Event, event=current))
        _series_exclude(event=current)
        if announce_reply:
            announcements.announcement_reply_queue(event=current,
                                                   text=announcements.reply_text_for_cancellation(event=current))
    event.status, event.cancelled_at, event.sequence = current.status, current.cancelled_at, current.sequence
    event.updated_at = current.updated_at
    event.publish_state, event.at_rkey = current.publish_state, current.at_rkey
    return event


@transaction.atomic
def event_delete(*, event: Event, actor: Member, delete_announcement: bool = False) -> None:
    """Delete an event (its host only), with its record in the host's repository and the RSVP
    records members published for it (queued on commit). `delete_announcement`: the announcement
    post Elonara wrote for it (and its reply), and the replies its messages became in its thread, go
    too; else they stay on Bluesky."""
    if event.host_id != actor.pk:
        raise NotAllowedError(gettext("Only the host can delete this event."))
    current = Event.objects.select_for_update().select_related("host").filter(pk=event.pk).first()
    if current is None:
        return
    _series_exclude(event=current)
    if current.at_rkey:
        publishing.record_delete_queue(member=current.host, collection=atrecords.EVENT_NSID, rkey=current.at_rkey)
    if delete_announcement:
        announcements.announcement_delete_queue(event=current)
        host_messages.host_message_replies_delete_queue(event=current)
    for rsvp in RSVP.objects.select_related("member").filter(event=current).exclude(at_rkey=""):
        publishing.record_delete_queue(member=rsvp.member, collection=atrecords.RSVP_NSID, rkey=rsvp.at_rkey)
    if current.image:
        storage, name = current.image.storage, current.image.name
        transaction.on_commit(lambda: storage.delete(name))
    current.delete()


@transaction.atomic
def rsvp_set(*, event: Event, member: Member, status: str, door: Door = Door.PAGE,
             answers: dict[str, Any] | None = None, via: str = "") -> RSVP:
    """A member's answer on the page or through the API, by the event's rules (elonara.answers):
    "going" beyond the seat limit joins the waiting list (in order); on an "ask to join" event an
    answer waits for approval unless the member was approved before (or hosts it); leaving a seat
    gives it to the first in line at once."""
    # The page and the API are refused with an error, never ignored (None is for network doors).
    return cast(RSVP, answer_take(event=event, member=member, status=status, door=door, answers=answers, via=via))


@transaction.atomic
def event_cohost_add(*, event: Event, actor: Member, member: Member) -> EventCohost:
    """The host shares the event with another member (idempotent)."""
    if event.host_id != actor.pk:
        raise NotAllowedError(gettext("Only the host can add co-hosts."))
    if member.pk == event.host_id:
        raise InvalidInputError(gettext("You already host this event."), field="username")
    if not member.is_active:
        raise InvalidInputError(gettext("No such member."), field="username")
    cohost, _created = EventCohost.objects.get_or_create(event=event, member=member)
    return cohost


@transaction.atomic
def event_cohost_remove(*, event: Event, actor: Member, member: Member) -> None:
    """The host removes a co-host, or a co-host steps down."""
    if event.host_id != actor.pk and actor.pk != member.pk:
        raise NotAllowedError(gettext("Only the host can remove co-hosts."))
    EventCohost.objects.filter(event=event, member=member).delete()


# The home page's "Upcoming events" fragment is cached (it is most of the page's CPU). Any change to
# an event, its counts or its community's name drops it after commit; the timeout bounds how long
# an event that just ended can stay listed.
UPCOMING_CACHE_SECONDS = 60
def anonymous_home_cache_key(language: str) -> str:
    """The whole home page as an anonymous visitor with no cookie sees it, in `language`
    (elonara.views.home)."""
    return f"home:anonymous:html:{language}"


def upcoming_events_cache_clear() -> None:
    from django.core.cache import cache
    from django.core.cache.utils import make_template_fragment_key

    languages = [code for code, _name in settings.LANGUAGES]
    cache.delete_many([make_template_fragment_key("home_upcoming", [signed_in, language])
                       for signed_in in (True, False) for language in languages]
                      + [anonymous_home_cache_key(language) for language in languages])


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
    # Seats freed without an answer here (an outside answer changed, an account was deleted).
    event_waitlist_promote(event_id=event_id)
    event.refresh_from_db()
    return event



# A feed's use is recorded at most this often (calendar apps poll every few minutes).
CALENDAR_FEED_USE_RECORDED_EVERY = timedelta(hours=1)


def calendar_feed_token_hash(token: str) -> str:
    # The token has 256 random bits, so a plain SHA-256 is enough (no salt or slow hash needed).
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_issue(*, member: Member) -> tuple[CalendarFeed, str]:
    """Create the member's private calendar feed, or replace its token (the old URL stops working).

    Returns the feed and the secret token. The token is not stored: show it to the member now.
    """
    token = secrets.token_urlsafe(32)
    feed, _created = CalendarFeed.objects.update_or_create(
        member=member, defaults={"token_hash": calendar_feed_token_hash(token), "created_at": timezone.now(),
                                 "last_used_at": None},
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, member: Member) -> bool:
    """Turn the member's private feed off; its URL answers 404 from now on."""
    deleted, _ = CalendarFeed.objects.filter(member=member).delete()
    return bool(deleted)


_FEED_BY_TOKEN = FixedQuery(lambda token_hash: (
    CalendarFeed.objects.select_related("member").filter(token_hash=token_hash).order_by("pk")[:1]),
    token_hash="stand-in-token-hash")


def calendar_feed_authenticate(*, token: str) -> CalendarFeed | None:
    """The feed a token opens, or None. Records the use at most once an hour (calendar apps poll)."""
    if not token or len(token) > 100:
        return None
    feed = _FEED_BY_TOKEN.first(token_hash=calendar_feed_token_hash(token))
    if feed is None or not feed.member.is_active:
        return None
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > CALENDAR_FEED_USE_RECORDED_EVERY:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
        feed.last_used_at = now
    return feed
