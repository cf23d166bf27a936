"""A member's private calendar feed (events they host or answered going/maybe, here and in other
apps), built once per change and cached under the member's calendar version (elonara.page_cache),
renewed by their answers, the events in it (saves, deletes and `update()`), and their name. Kept
no longer than until its oldest event leaves the feed's window.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from elonara import ical, selectors
from elonara.community_page import CalendarFile, calendar_file
from elonara.page_cache import MEMBER_CALENDAR, page_part_get
from members.models import Member
from network import selectors as network_selectors


def member_calendar_get(*, member: Member) -> CalendarFile | None:
    return page_part_get(MEMBER_CALENDAR, member.pk, lambda: _member_calendar_build(member=member))


def _member_calendar_build(*, member: Member) -> tuple[CalendarFile, int]:
    since = timezone.now() - selectors.CALENDAR_FEED_PAST
    events: list[Any] = list(selectors.event_list_for_member_calendar(member=member))
    events += network_selectors.network_events_for_member_calendar(
        member=member, since=since, limit=selectors.CALENDAR_FEED_MAX_EVENTS)
    events.sort(key=lambda event: event.starts_at)
    return calendar_file(slug=member.username, body=ical.member_feed_ics(member=member, events=events), events=events)
