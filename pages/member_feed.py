"""A member's private calendar feed (events they host or answered going/maybe, here and in other
apps), built once per change and cached under the member's calendar version (core.page_cache),
renewed by their answers, the events in it (saves, deletes and `update()`), their name, and their
feed's token. Kept no longer than until its oldest event leaves the feed's window.

Which member a token names is kept too, under the same version: a new token, a revoked feed or a
deactivated member renews it, so a warm feed costs three cache round trips (the token, its
version, the file) and no query. Each event's VEVENT is kept once for all the feeds holding it,
under what it says, so the first views of many members' feeds build each event once.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Exists, QuerySet
from django.utils import timezone

from core.page_cache import (
    MEMBER_CALENDAR,
    PAGE_CACHE_SECONDS,
    page_key,
    page_part_get,
    page_version_key,
    versions_current,
)
from core.sql import STAND_IN_ID, STAND_IN_TIME, FixedQuery
from elonara import ical, selectors, services
from elonara.community_page import CalendarFile, calendar_file
from elonara.models import CalendarFeed
from members.models import Member
from network import selectors as network_selectors
from network.models import NetworkRSVP


def member_calendar_for_token(*, token: str) -> CalendarFile | None:
    """The private feed a token opens; None for an unknown or revoked token or an inactive member."""
    if not token or len(token) > 100:
        return None
    token_key = page_key("calendar-feed-token", 0, services.calendar_feed_token_hash(token))
    kept = cache.get(token_key)  # (member id, their calendar version then, when the database said so)
    # The database is asked again as often as it records the feed's use.
    if kept is not None and timezone.now() - kept[2] < services.CALENDAR_FEED_USE_RECORDED_EVERY:
        if cache.get(page_version_key(MEMBER_CALENDAR, kept[0])) == kept[1]:
            return page_part_get(MEMBER_CALENDAR, kept[0], lambda: _member_calendar_build(member_id=kept[0]))
    feed = services.calendar_feed_authenticate(token=token)  # records the use
    if feed is None:
        return None
    (version,) = versions_current([page_version_key(MEMBER_CALENDAR, feed.member_id)])
    # Whether the feed is still open is asked again after reading the version: a revocation before
    # it is seen here, one after it renews the version, so the answer kept is never a revoked
    # token's. A calendar built now asks it in the query reading the member (one query less).
    still_open: list[bool] = []
    calendar = page_part_get(MEMBER_CALENDAR, feed.member_id, lambda: _member_calendar_build(
        member_id=feed.member_id, feed_id=feed.pk, feed_open=still_open))
    if not still_open:
        still_open.append(CalendarFeed.objects.filter(pk=feed.pk, member__is_active=True).exists())
    if version is not None and still_open[0]:
        cache.set(token_key, (feed.member_id, version, timezone.now()), PAGE_CACHE_SECONDS)
    return calendar


# What the feed reads of each event (ical.vevent_facts, calendar_build, calendar_file): no more.
_EVENT_FIELDS = ("title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url", "status",
                 "sequence", "created_at", "updated_at")


# The feed's queries, compiled once (core.sql): a feed built cold pays for its rows, not its SQL.
def _member_query(member_id: int) -> QuerySet[Member]:
    return (Member.objects.filter(pk=member_id, is_active=True).only("username", "display_name")
            .annotate(network_answers=Exists(NetworkRSVP.objects.filter(member_id=member_id))))


_MEMBER = FixedQuery(lambda member_id: _member_query(member_id)[:1], member_id=STAND_IN_ID)
_MEMBER_AND_FEED = FixedQuery(lambda member_id, feed_id: _member_query(member_id).annotate(
    feed_open=Exists(CalendarFeed.objects.filter(pk=feed_id)))[:1], member_id=STAND_IN_ID, feed_id=STAND_IN_ID - 7)
_EVENTS = FixedQuery(lambda member_id, since: (
    selectors.event_list_for_member_calendar(member_id=member_id, since=since)
    .select_related(None).only(*_EVENT_FIELDS)), member_id=STAND_IN_ID, since=STAND_IN_TIME)


def _member_calendar_build(*, member_id: int, feed_id: int | None = None, feed_open: list[bool] | None = None
                           ) -> tuple[CalendarFile | None, int]:
    """`feed_id`: whether that feed is still open (and its member active) is put in `feed_open`."""
    # With whether they answered any event of another app at all (most never did: their query is
    # then not made).
    member = (_MEMBER.first(member_id=member_id) if feed_id is None
              else _MEMBER_AND_FEED.first(member_id=member_id, feed_id=feed_id))
    if feed_open is not None:
        feed_open.append(bool(member is not None and getattr(member, "feed_open", False)))
    if member is None:
        return None, 0
    since = timezone.now() - selectors.CALENDAR_FEED_PAST
    events: list[Any] = _EVENTS.all(member_id=member_id, since=since)
    if getattr(member, "network_answers", True):
        events += network_selectors.network_events_for_member_calendar(
            member=member, since=since, limit=selectors.CALENDAR_FEED_MAX_EVENTS)
    events.sort(key=lambda event: event.starts_at)
    body = ical.member_feed_ics(member=member, events=events, vevents=_vevents_shared(events))
    return calendar_file(slug=member.username, body=body, events=events)


def _vevents_shared(events: list[Any]) -> list[bytes]:
    """Each event's VEVENT, kept once for every feed that holds it (the first view of each of its
    many answerers' feeds builds none again). Kept under what it says (ical.vevent_key), not
    under a version: any change to the event is another key, whatever wrote it, so nothing needs
    renewing and an old copy is merely never asked for again (it expires)."""
    if not events:
        return []
    facts = [ical.vevent_facts(event) for event in events]
    keys = [page_key("vevent", 0, ical.vevent_key(each)) for each in facts]
    found = cache.get_many(keys)
    built = {key: ical.vevent_ical(each) for key, each in zip(keys, facts, strict=True) if key not in found}
    if built:
        cache.set_many(built, PAGE_CACHE_SECONDS)
    return [found.get(key) or built[key] for key in keys]
