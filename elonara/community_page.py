"""The community page's part that is the same for every viewer, built once per change and cached
(core.page_cache): the community, its members, its upcoming events and the HTML of the
organizers line and of the page's body. The view adds the viewer's membership, the join/leave
actions, the organizer's tools, an invitation banner and the cover image (whose address may be
signed and expire).

Renewed by every change that shows here (elonara.signals, the models' querysets), and kept no
longer than until the first listed event ends (it then leaves "Upcoming events").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from core.page_cache import PAGE_CACHE_SECONDS, page_part_get
from elonara import cards, ical, selectors
from elonara.models import Community
from elonara.selectors import MemberRow


@dataclass
class CommunityPage:
    community: Community
    # Every membership by member id (plain rows, cheap to keep): the viewer's own is looked up
    # here, with no query.
    memberships: dict[int, MemberRow]
    calendar_url: str
    organizers_html: SafeString
    body_html: SafeString
    # True until then without a change: when the first listed event ends and leaves "Upcoming events".
    fresh_until: datetime

    def seconds_left(self) -> int:
        return max(0, int((self.fresh_until - timezone.now()).total_seconds()))

    @property
    def member_count(self) -> int:
        return len(self.memberships)

    @property
    def slug(self) -> str:
        return self.community.slug


@dataclass(frozen=True)
class CalendarFile:
    slug: str
    body: bytes
    # Of the body itself: unchanged content answers 304 to a calendar app that has it.
    etag: str
    last_modified: int | None  # the newest event change, in whole seconds as the header carries them

    @classmethod
    def of(cls, *, slug: str, body: bytes, events: list[Any]) -> CalendarFile:
        last_change = max((e.updated_at for e in events), default=None)
        return cls(slug=slug, body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                   last_modified=int(last_change.timestamp()) if last_change else None)


def calendar_file(*, slug: str, body: bytes, events: list[Any]) -> tuple[CalendarFile, int]:
    """A feed's file, and how long it stays true without a change: until its oldest event leaves
    the feed's window (and a later one may come in)."""
    seconds = PAGE_CACHE_SECONDS
    if events:
        leaves = min(e.ends_at for e in events) + selectors.CALENDAR_FEED_PAST
        seconds = min(seconds, int((leaves - timezone.now()).total_seconds()) + 1)
    return CalendarFile.of(slug=slug, body=body, events=events), seconds


class Slugged(Protocol):
    @property
    def slug(self) -> str: ...


SluggedPart = TypeVar("SluggedPart", bound=Slugged)


# slug -> id, per process: the page part is kept by id (what changes know), and a slug rarely
# changes. Checked against the part's own slug, so a renamed, deleted or reused slug is read again.
_community_ids: dict[str, int] = {}
_COMMUNITY_IDS_MAX = 10_000


def community_id_get(*, slug: str) -> int | None:
    """The id of the community with that slug (the per-process map, else one query); None: none.
    A slug renamed or reused since may give the old id: the page part says which it is."""
    known = _community_ids.get(slug)
    if known is not None:
        return known
    return _community_id_read(slug)


def _community_id_read(slug: str) -> int | None:
    found = Community.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if found is not None:
        if len(_community_ids) >= _COMMUNITY_IDS_MAX:
            _community_ids.clear()
        _community_ids[slug] = found
    return found


def community_page_get(*, slug: str) -> CommunityPage | None:
    """The community's page part, from the cache when current (one round trip), else built from
    the database (three queries) and cached. None: no such community."""
    return _by_slug(slug, lambda pk: page_part_get("community", pk, lambda: _community_page_build(community_id=pk)))


def community_calendar_get(*, slug: str) -> CalendarFile | None:
    """The community's public calendar file, renewed with its page (any change to the community or
    its events), and kept no longer than until its oldest event leaves the feed's window."""
    return _by_slug(slug, lambda pk: page_part_get("community", pk, lambda: _community_calendar_build(community_id=pk),
                                                   part="ics"))


def _by_slug(slug: str, get: Callable[[int], SluggedPart | None]) -> SluggedPart | None:
    known = _community_ids.get(slug)
    if known is not None:
        found_part = get(known)
        if found_part is not None and found_part.slug == slug:
            return found_part
        del _community_ids[slug]
    found = _community_id_read(slug)
    return None if found is None else get(found)


def _community_calendar_build(*, community_id: int) -> tuple[CalendarFile | None, int]:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return None, 0
    events = list(selectors.event_list_for_community_calendar(community=community))
    return calendar_file(slug=community.slug, body=ical.community_feed_ics(community=community, events=events),
                         events=events)


def _community_page_build(*, community_id: int) -> tuple[CommunityPage | None, int]:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return None, 0
    memberships = selectors.community_member_rows(community=community)
    events = list(selectors.event_list_for_community(community=community))
    calendar_url = cards.absolute_url(reverse("community-calendar", args=[community.slug]))
    context = {"community": community, "memberships": memberships, "events": events, "calendar_url": calendar_url}
    now = timezone.now()
    fresh_until = min([now + timedelta(seconds=PAGE_CACHE_SECONDS), *(e.ends_at for e in events)])
    page = CommunityPage(
        community=community, memberships={m.member_id: m for m in memberships}, calendar_url=calendar_url,
        organizers_html=render_to_string("elonara/_community_organizers.html", context),
        body_html=render_to_string("elonara/_community_body.html", context),
        fresh_until=fresh_until,
    )
    return page, int((fresh_until - now).total_seconds()) + 1
