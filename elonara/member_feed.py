"""A member's private calendar feed (events they host or answered going/maybe, here and in other
apps), built once per change and cached under the member's calendar version (elonara.page_cache),
renewed by their answers, the events in it (saves, deletes and `update()`), and their name. Kept
no longer than until its oldest event leaves the feed's window.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils import timezone

from elonara import ical, selectors
from elonara.community_page import CalendarFile
from elonara.page_cache import MEMBER_CALENDAR, PAGE_CACHE_SECONDS, page_part_get
from members.models import Member
from network import selectors as network_selectors


def member_calendar_get(*, member: Member) -> CalendarFile:
    calendar = page_part_get(MEMBER_CALENDAR, member.pk, lambda: _member_calendar_build(member=member))
    assert calendar is not None  # built for an existing member
    return calendar


def _member_calendar_build(*, member: Member) -> tuple[CalendarFile, int]:
    since = timezone.now() - selectors.CALENDAR_FEED_PAST
    events: list[Any] = list(selectors.event_list_for_member_calendar(member=member))
    events += network_selectors.network_events_for_member_calendar(
        member=member, since=since, limit=selectors.CALENDAR_FEED_MAX_EVENTS)
    events.sort(key=lambda event: event.starts_at)
    body = ical.member_feed_ics(member=member, events=events)
    last_change = max((e.updated_at for e in events), default=None)
    seconds = PAGE_CACHE_SECONDS
    if events:
        # The oldest event leaves the feed's window then.
        leaves = min(e.ends_at for e in events) + selectors.CALENDAR_FEED_PAST
        seconds = min(seconds, int((leaves - timezone.now()).total_seconds()) + 1)
    return CalendarFile(slug=member.username, body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                        last_modified=int(last_change.timestamp()) if last_change else None), seconds
