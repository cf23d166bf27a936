"""Reads for communities, events and RSVPs."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from elonara.models import RSVP, CalendarFeed, Community, CommunityMembership, Event, ExternalRSVP
from members.models import Member


def event_list_upcoming(*, limit: int = 50) -> QuerySet[Event]:
    """Events that have not ended yet, soonest first."""
    return (
        Event.objects.filter(ends_at__gte=timezone.now())
        .select_related("host", "community")
        .order_by("starts_at")[:limit]
    )


def event_list_for_community(*, community: Community) -> QuerySet[Event]:
    return community.events.filter(ends_at__gte=timezone.now()).select_related("host").order_by("starts_at")


def community_list(*, limit: int = 200) -> QuerySet[Community]:
    return Community.objects.order_by("name")[:limit]


def community_list_created_by(*, member: Member) -> QuerySet[Community]:
    return Community.objects.filter(created_by=member).order_by("name")


def community_list_for_member(*, member: Member) -> QuerySet[Community]:
    return Community.objects.filter(memberships__member=member).order_by("name").distinct()


def community_members(*, community: Community) -> QuerySet[CommunityMembership]:
    return community.memberships.select_related("member").order_by("-role", "joined_at")


def community_membership_for(*, community: Community, member: Member) -> CommunityMembership | None:
    if not member.is_authenticated:
        return None
    return community.memberships.filter(member=member).first()


def event_attendees_by_status(*, event: Event) -> dict[str, list[RSVP]]:
    grouped: dict[str, list[RSVP]] = {status: [] for status in RSVP.Status.values}
    for rsvp in event.rsvps.select_related("member").order_by("updated_at"):
        grouped[rsvp.status].append(rsvp)
    return grouped


def event_outside_rsvps_by_status(*, event: Event) -> dict[str, list[ExternalRSVP]]:
    """Answers given in other AT Protocol apps by people who are not members here: shown apart,
    never counted among the members' answers."""
    grouped: dict[str, list[ExternalRSVP]] = {status: [] for status in ExternalRSVP.Status.values}
    for rsvp in event.external_rsvps.order_by("created_at"):
        grouped[rsvp.status].append(rsvp)
    return grouped


def rsvp_for(*, event: Event, member: Member) -> RSVP | None:
    if not member.is_authenticated:
        return None
    return event.rsvps.filter(member=member).first()


def rsvp_list_upcoming_for_member(*, member: Member) -> QuerySet[RSVP]:
    return (
        RSVP.objects.filter(member=member, event__ends_at__gte=timezone.now())
        .select_related("event")
        .order_by("event__starts_at")
    )


def event_is_host(*, event: Event, member: Member) -> bool:
    return bool(member.is_authenticated and event.host_id == member.pk)


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


def event_list_for_member_calendar(*, member: Member) -> QuerySet[Event]:
    """Events the member hosts or has answered going/maybe to, cancelled ones included."""
    since = timezone.now() - CALENDAR_FEED_PAST
    attending = RSVP.objects.filter(member=member, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE])
    return (
        Event.objects.filter(Q(host=member) | Q(pk__in=attending.values("event_id")), ends_at__gte=since)
        .select_related("host")
        .order_by("starts_at")[:CALENDAR_FEED_MAX_EVENTS]
    )


def event_list_for_community_calendar(*, community: Community) -> QuerySet[Event]:
    since = timezone.now() - CALENDAR_FEED_PAST
    return (
        community.events.filter(ends_at__gte=since).select_related("host").order_by("starts_at")
        [:CALENDAR_FEED_MAX_EVENTS]
    )


def calendar_feed_for_member(*, member: Member) -> CalendarFeed | None:
    if not member.is_authenticated:
        return None
    return CalendarFeed.objects.filter(member=member).first()
