"""A member's private calendar feed (events they host or answered going/maybe, here and in other
apps), built once per change and cached under the member's calendar version (core.page_cache),
renewed by their answers, the events in it (saves, deletes and `update()`), their name, and their
feed's token. Kept no longer than until its oldest event leaves the feed's window.

Which member a token names is kept too, under the same version: a new token, a revoked feed or a
deactivated member renews it, so a warm feed costs three cache round trips (the token, its
version, the file) and no query.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone

from core.page_cache import (
    MEMBER_CALENDAR,
    PAGE_CACHE_SECONDS,
    page_key,
    page_part_get,
    page_version_key,
    versions_current,
)
from elonara import ical, selectors, services
from elonara.community_page import CalendarFile, calendar_file
from elonara.models import CalendarFeed
from members.models import Member
from network import selectors as network_selectors


def member_calendar_for_token(*, token: str) -> CalendarFile | None:
    """The private feed a token opens; None for an unknown or revoked token or an inactive member."""
    if not token or len(token) > 100:
        return None
    member_id = _token_member_id(token)
    if member_id is None:
        return None
    return page_part_get(MEMBER_CALENDAR, member_id, lambda: _member_calendar_build(member_id=member_id))


def _token_member_id(token: str) -> int | None:
    token_key = page_key("calendar-feed-token", 0, services.calendar_feed_token_hash(token))
    kept = cache.get(token_key)  # (member id, their calendar version then, when the database said so)
    # The database is asked again as often as it records the feed's use.
    if kept is not None and timezone.now() - kept[2] < services.CALENDAR_FEED_USE_RECORDED_EVERY:
        if cache.get(page_version_key(MEMBER_CALENDAR, kept[0])) == kept[1]:
            return kept[0]
    feed = services.calendar_feed_authenticate(token=token)  # records the use
    if feed is None:
        return None
    (version,) = versions_current([page_version_key(MEMBER_CALENDAR, feed.member_id)])
    # Asked again after reading the version: a revocation before it is seen here, one after it
    # renews the version, so the answer kept is never a revoked token's.
    if version is not None and CalendarFeed.objects.filter(pk=feed.pk, member__is_active=True).exists():
        cache.set(token_key, (feed.member_id, version, timezone.now()), PAGE_CACHE_SECONDS)
    return feed.member_id


def _member_calendar_build(*, member_id: int) -> tuple[CalendarFile | None, int]:
    member = Member.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        return None, 0
    since = timezone.now() - selectors.CALENDAR_FEED_PAST
    events: list[Any] = list(selectors.event_list_for_member_calendar(member=member))
    events += network_selectors.network_events_for_member_calendar(
        member=member, since=since, limit=selectors.CALENDAR_FEED_MAX_EVENTS)
    events.sort(key=lambda event: event.starts_at)
    return calendar_file(slug=member.username, body=ical.member_feed_ics(member=member, events=events), events=events)
