"""Reads for communities, events and RSVPs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.sql import STAND_IN_ID, FixedQuery
from elonara.models import (
    RSVP,
    CalendarFeed,
    Community,
    CommunityMembership,
    Event,
    EventCohost,
    EventSeries,
    ExternalRSVP,
)
from members.models import Face, Member

# What the pages show of a person. Cached page parts (elonara.event_page, community_page) load
# only these, so the cache never holds a password hash, an email address or a login time.
PERSON_SHOWN = ("username", "display_name", "avatar_url", "bluesky_display_name", "bluesky_avatar_url")


def person_fields_not_shown(relation: str) -> list[str]:
    """For `defer()`: every other column of the member reached through `relation`."""
    return [f"{relation}__{field.attname}" for field in Member._meta.concrete_fields
            if field.attname not in ("id", *PERSON_SHOWN)]


def event_listed_q(*, now: datetime | None = None, via: str = "") -> Q:
    """The one rule for every list of events (the home list, "Your plans", Upcoming, the API), ours
    and other apps' alike: an event is listed until it ends; a cancelled one stays listed, marked
    cancelled (so whoever planned to go learns it there), never silently left out. `via` reaches
    the event through a relation ("event__" for answers)."""
    return Q(**{f"{via}ends_at__gte": now or timezone.now()})


def event_list_upcoming(*, limit: int = 50) -> QuerySet[Event]:
    """Events that have not ended yet, soonest first (cancelled ones marked, event_listed_q), with
    the columns their cards show (Event.card) and no more: the list is read whole when it renews."""
    return (
        Event.objects.filter(event_listed_q())
        .select_related("community")
        .only("id", "title", "starts_at", "time_zone", "venue", "online_url", "status", "going_count", "maybe_count",
              "community_id", "community__name")
        .order_by("starts_at")[:limit]
    )


def event_list_upcoming_for_api() -> QuerySet[Event]:
    """Events that have not ended yet, with only the columns the API shows (the caller orders and pages)."""
    return Event.objects.filter(event_listed_q()).only(
        "id", "title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url", "status",
        "capacity", "requires_approval", "series", "language")


def event_list_for_community(*, community: Community) -> QuerySet[Event]:
    return community.events.filter(ends_at__gte=timezone.now()).select_related("host").order_by("starts_at")


def community_list(*, limit: int = 200) -> QuerySet[Community]:
    return Community.objects.order_by("name")[:limit]


def community_list_created_by(*, member: Member) -> QuerySet[Community]:
    return Community.objects.filter(created_by=member).order_by("name")


_COMMUNITIES_OF = FixedQuery(lambda member_id: (
    Community.objects.filter(memberships__member_id=member_id).order_by("name").distinct()), member_id=STAND_IN_ID)


def community_list_for_member(*, member: Member) -> list[Community]:
    return _COMMUNITIES_OF.all(member_id=member.pk)


def community_list_organized_by(*, member: Member) -> QuerySet[Community]:
    """Communities the member organizes: the ones they may add events to."""
    return Community.objects.filter(memberships__member=member,
                                    memberships__role=CommunityMembership.Role.HOST).order_by("name").distinct()


def community_blocks(*, community: Community):
    return community.blocks.select_related("member")


def community_members(*, community: Community) -> QuerySet[CommunityMembership]:
    return community.memberships.select_related("member").order_by("-role", "joined_at")


@dataclass(slots=True)
class MemberRow(Face):
    """One membership as the community page lists it: plain values (see AnswerRow), the
    organizers first; `member` is the row itself and `profile_url` its member's page."""

    member_id: int
    role: str
    username: str
    display_name: str
    bluesky_display_name: str
    bluesky_avatar_url: str
    profile_url: str

    @property
    def member(self) -> MemberRow:
        return self


def community_member_rows(*, community: Community) -> list[MemberRow]:
    rows = community_members(community=community).values_list(
        "member_id", "role", "member__username", "member__display_name", "member__bluesky_display_name",
        "member__bluesky_avatar_url")
    return [MemberRow(*row, profile_url=reverse("members:profile", args=[row[2]])) for row in rows]


@dataclass(slots=True)
class AnswerRow(Face):
    """One member's answer as the event page lists it: plain values, no model instances (a
    hundred of those cost more to build and to keep in the page's cached part than the page).
    Their face (`member`: the row itself), their Bluesky accounts (`identity_did`,
    `app_password_did`: None without, so a viewer who blocks one is not shown the answer), and for
    the viewer's own answer the columns the answer panel shows (`ANSWER_COLUMNS`, `as_rsvp`)."""

    member_id: int
    status: str
    username: str
    display_name: str
    bluesky_display_name: str
    bluesky_avatar_url: str
    identity_did: str | None
    app_password_did: str | None
    own: tuple  # the ANSWER_COLUMNS' values, for as_rsvp()

    @property
    def member(self) -> AnswerRow:
        return self

    def as_rsvp(self) -> RSVP:
        """The answer as a (read-only) model instance for its own member's panel."""
        given = dict(zip(ANSWER_COLUMNS, self.own, strict=True))
        columns = _answer_columns_in_model_order()
        return RSVP.from_db("default", columns, [given[c] for c in columns])


# What the answering member's own panel reads of their answer (the place in line, the request,
# the promotion, the publishing state, the answers to the host's questions).
ANSWER_COLUMNS = ("id", "event_id", "member_id", "status", "publish_state", "publish_error", "updated_at",
                  "wanted_status", "network_status", "queued_at", "promoted_at", "question_answers",
                  "questions_missing")
@functools.cache
def _answer_columns_in_model_order() -> list[str]:
    # from_db takes the values in the model's column order, the others deferred: worked out once.
    return [f.attname for f in RSVP._meta.concrete_fields if f.attname in ANSWER_COLUMNS]


_FACE_COLUMNS = ("member__username", "member__display_name", "member__bluesky_display_name",
                 "member__bluesky_avatar_url", "identity_did", "app_password_did")


def event_attendees_by_status(*, event: Event) -> dict[str, list[AnswerRow]]:
    """The answers by status, the host first among those going (the list marks them Host)."""
    grouped: dict[str, list[AnswerRow]] = {status: [] for status in RSVP.Status.values}
    for row in event_attendees(event=event):
        grouped[row.status].append(row)
    grouped[RSVP.Status.GOING].sort(key=lambda row: row.member_id != event.host_id)  # stable: the rest keep order
    return grouped


def event_attendees(*, event: Event) -> list[AnswerRow]:
    """The answers in the order given, with only what the event page shows (one query, the
    member's Bluesky accounts joined)."""
    columns = len(ANSWER_COLUMNS)
    rows = (event.rsvps.order_by("updated_at")
            .annotate(identity_did=F("member__bluesky_identity__did"),
                      app_password_did=F("member__bluesky_app_password__did"))
            .values_list(*ANSWER_COLUMNS, *_FACE_COLUMNS))
    return [AnswerRow(member_id=row[2], status=row[3], username=row[columns], display_name=row[columns + 1],
                      bluesky_display_name=row[columns + 2], bluesky_avatar_url=row[columns + 3],
                      identity_did=row[columns + 4], app_password_did=row[columns + 5], own=row[:columns])
            for row in rows]


def event_outside_rsvps_by_status(*, event: Event) -> dict[str, list[ExternalRSVP]]:
    """Answers given in other AT Protocol apps by people who are not members here: shown apart,
    never counted among the members' answers."""
    grouped: dict[str, list[ExternalRSVP]] = {status: [] for status in ExternalRSVP.Status.values}
    for rsvp in event.external_rsvps.order_by("created_at").only("status", "did", "handle", "event_id"):
        grouped[rsvp.status].append(rsvp)
    return grouped


def rsvp_for(*, event: Event, member: Member) -> RSVP | None:
    if not member.is_authenticated:
        return None
    return event.rsvps.filter(member=member).first()


def rsvp_list_upcoming_for_member(*, member: Member) -> QuerySet[RSVP]:
    return (
        RSVP.objects.filter(event_listed_q(via="event__"), member=member)
        .select_related("event")
        .order_by("event__starts_at")
    )


# The member's side of the home page ("Your plans", "Your communities", "Your Bluesky invitations"):
# plain rows with only what the page shows, cached per member under core.page_cache.MEMBER_HOME.
# Renewed by elonara.signals when the member answers, joins or leaves, or when one of those events
# or communities changes, and by invitations.services when one of their invitations is sent,
# accepted or declined; the timeout bounds how long an event that just ended stays among the plans.
MEMBER_HOME_CACHE_SECONDS = 60



def event_is_host(*, event: Event, member: Member) -> bool:
    return bool(member.is_authenticated and event.host_id == member.pk)


def event_guest_names_shown(*, event: Event, member: Member, can_manage: bool) -> bool:
    """Whether this viewer sees who answered (names and faces) or only the counts: the host's
    choice (`Event.guest_list`); the host and co-hosts always see them."""
    if can_manage or event.guest_list == Event.GuestList.PUBLIC:
        return True
    return event.guest_list == Event.GuestList.MEMBERS and member.is_authenticated


def event_can_manage(*, event: Event, member: Member) -> bool:
    """The host or a co-host: they edit, invite, approve and see the attendee list."""
    if not member.is_authenticated:
        return False
    return event.host_id == member.pk or EventCohost.objects.filter(event=event, member=member).exists()


def event_cohosts(*, event: Event) -> list[Member]:
    return [link.member for link in EventCohost.objects.filter(event=event).select_related("member")]


def event_seats_taken(*, event: Event) -> int:
    """Members going, plus outside "going" answers when the host lets them take seats."""
    taken = RSVP.objects.filter(event=event, status=RSVP.Status.GOING).count()
    if event.capacity_counts_outside:
        taken += ExternalRSVP.objects.filter(event=event, status=ExternalRSVP.Status.GOING).count()
    return taken


def event_waitlist(*, event: Event) -> QuerySet[RSVP]:
    """The waiting list, first in line first."""
    return (event.rsvps.filter(status=RSVP.Status.WAITLISTED).select_related("member")
            .order_by("queued_at", "pk"))


def event_going(*, event: Event) -> QuerySet[RSVP]:
    """Members going, first answers first (the host's people page, where they can remove one)."""
    return (event.rsvps.filter(status=RSVP.Status.GOING).select_related("member")
            .order_by("updated_at", "pk"))


def event_requests(*, event: Event) -> QuerySet[RSVP]:
    """"Ask to join" answers waiting for the host, oldest first."""
    return (event.rsvps.filter(status=RSVP.Status.REQUESTED).select_related("member")
            .order_by("queued_at", "pk"))


def rsvp_waitlist_position(*, rsvp: RSVP | None) -> int | None:
    """1 for the first in line; None when not on the waiting list."""
    if rsvp is None or rsvp.status != RSVP.Status.WAITLISTED:
        return None
    ahead = RSVP.objects.filter(event_id=rsvp.event_id, status=RSVP.Status.WAITLISTED).filter(
        Q(queued_at__lt=rsvp.queued_at) | Q(queued_at=rsvp.queued_at, pk__lt=rsvp.pk)).count()
    return ahead + 1


def event_attendee_export_rows(*, event: Event) -> list[list[str]]:
    """The attendee list as the host's CSV export: one row per member answer, by status."""
    rows = [["name", "username", "bluesky_handle", "status", "waitlist_position", "answered_at"]]
    order = {status: i for i, status in enumerate(RSVP.Status.values)}
    rsvps = sorted(event.rsvps.select_related("member", "member__bluesky_identity"),
                   key=lambda r: (order[r.status], r.queued_at or r.updated_at, r.pk))
    position = 0
    for rsvp in rsvps:
        identity = getattr(rsvp.member, "bluesky_identity", None)
        if rsvp.status == RSVP.Status.WAITLISTED:
            position += 1
        rows.append([rsvp.member.name, rsvp.member.username, identity.handle if identity else "",
                     rsvp.status, str(position) if rsvp.status == RSVP.Status.WAITLISTED else "",
                     rsvp.updated_at.isoformat()])
    return rows


def event_is_attending(*, event: Event, member: Member) -> bool:
    """Has the member answered going or maybe?"""
    if not member.is_authenticated:
        return False
    return event.rsvps.filter(member=member, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE]).exists()


def community_is_host(*, community: Community, member: Member) -> bool:
    if not member.is_authenticated:
        return False
    return community.memberships.filter(member=member, role=CommunityMembership.Role.HOST).exists()


def community_is_member(*, community: Community, member: Member) -> bool:
    return bool(member.is_authenticated and community.memberships.filter(member=member).exists())


# Calendar feeds keep recent past events (so a calendar app does not drop what just happened)
# and everything ahead, up to a bound that keeps a feed cheap to build.
CALENDAR_FEED_PAST = timedelta(days=90)
CALENDAR_FEED_MAX_EVENTS = 500


def event_list_for_member_calendar(*, member_id: int, since: datetime) -> QuerySet[Event]:
    """Events the member hosts or has answered going/maybe to that end after `since` (the feed's
    window: now less CALENDAR_FEED_PAST), cancelled ones included."""
    attending = RSVP.objects.filter(member_id=member_id, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE])
    return (
        Event.objects.filter(Q(host_id=member_id) | Q(pk__in=attending.values("event_id")), ends_at__gte=since)
        .select_related("host")
        .order_by("starts_at")[:CALENDAR_FEED_MAX_EVENTS]
    )


def event_list_for_community_calendar(*, community: Community) -> QuerySet[Event]:
    since = timezone.now() - CALENDAR_FEED_PAST
    return (
        community.events.filter(ends_at__gte=since).select_related("host").order_by("starts_at")
        [:CALENDAR_FEED_MAX_EVENTS]
    )


_FEED_OF = FixedQuery(lambda member_id: CalendarFeed.objects.filter(member_id=member_id).order_by("pk")[:1],
                      member_id=STAND_IN_ID)


def calendar_feed_for_member(*, member: Member) -> CalendarFeed | None:
    if not member.is_authenticated:
        return None
    return _FEED_OF.first(member_id=member.pk)


def series_occurrences_upcoming(*, series: EventSeries) -> list[Event]:
    """The series' occurrences that have not ended, with those of the series it continues as."""
    chain = [series.pk]
    if series.continued_by_id:
        chain.append(series.continued_by_id)
    return list(Event.objects.filter(series_id__in=chain, ends_at__gte=timezone.now()).order_by("starts_at")
                .only("title", "starts_at", "ends_at", "time_zone", "status", "going_count", "capacity")[:50])


def series_occurrences_all(*, series: EventSeries) -> list[Event]:
    return list(series.occurrences.order_by("recurrence_id"))


# A series without an end is covered this far ahead by its calendar file's VTIMEZONE.
SERIES_ZONE_HORIZON = timedelta(days=365 * 5)


def series_last_start(*, series: EventSeries) -> datetime:
    """The last start the series can have (bounded for one without an end)."""
    from elonara.recurrence import instants

    if series.until is not None:
        return series.until
    if series.count is not None:
        starts = list(instants(series.rule, local_start=series.starts_at.astimezone(series.zone),
                               zone=series.zone, count=series.count))
        return starts[-1] if starts else series.starts_at
    return max(series.starts_at, timezone.now()) + SERIES_ZONE_HORIZON
