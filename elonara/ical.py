"""iCalendar (RFC 5545) files for events: one event's download and the calendar feeds.

Built with the `icalendar` library. Each event is written in its own time zone (DTSTART/DTEND
with TZID, plus that zone's VTIMEZONE), so calendar apps keep the wall-clock time across
daylight-saving changes; its UID is stable and its SEQUENCE grows with each revision.

One exception: a local time that happens twice (the repeated hour on the night clocks go back) is
written in UTC (`...Z`). RFC 5545 3.3.5 reads such a TZID time as its first occurrence, so an event
at the second 02:30 would be filed an hour early; a UTC time is exact whichever occurrence it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from icalendar.enums import STATUS, TRANSP

from elonara.cards import absolute_url
from elonara.models import Event, EventSeries, zone_named

PRODID = "-//Elonara//Events//EN"
FEED_REFRESH = timedelta(hours=1)
CONTENT_TYPE = "text/calendar; charset=utf-8"


# RFC 5545 3.3.11: TEXT may hold no control character but HTAB; line breaks are written as the
# escape "\n". Ours and members' texts can hold anything (a title pasted with a newline, a BEL).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")


def ical_text(value: str, *, one_line: bool = False) -> str:
    """A member's text made fit for an iCalendar TEXT value: line breaks become "\n" (escaped by the
    library), other control characters are dropped; `one_line` (names, titles) joins lines with a space."""
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", value))
    return " ".join(text.split()) if one_line else text


def event_uid(event: Event) -> str:
    """Stable for the event's life: same id, same public host."""
    host = urlsplit(settings.ELONARA_PUBLIC_URL).hostname or "elonara.invalid"
    # Network events (network.models) name themselves after their record, not a row id.
    if own := getattr(event, "ical_uid", ""):
        return f"{own}@{host}"
    return f"event-{event.pk}@{host}"



@lru_cache(maxsize=256)
def _vtimezone_ical(zone_name: str, first_year: int, last_year: int) -> bytes:
    # Building a VTIMEZONE walks the zone's transitions: cache it per zone and span of years.
    component = icalendar.Timezone.from_tzinfo(
        ZoneInfo(zone_name), tzid=zone_name, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1),
    )
    return component.to_ical()


def _vtimezone(zone_name: str, first_year: int, last_year: int) -> icalendar.Timezone:
    component = icalendar.Timezone.from_ical(_vtimezone_ical(zone_name, first_year, last_year))
    if not isinstance(component, icalendar.Timezone):
        raise ValueError(f"no VTIMEZONE for {zone_name}")
    return component


def exact_time(instant: datetime, zone: tzinfo) -> datetime:
    """`instant` as the zone's wall-clock time, or in UTC when that wall-clock time happens twice."""
    local = instant.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return instant.astimezone(UTC)
    return local


class VeventFacts(NamedTuple):
    """Everything an event's VEVENT says, read from its row: the VEVENT is made from these alone,
    so equal facts give equal bytes (the key of the copy every feed holding the event shares)."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    stamp: datetime
    created: datetime
    sequence: int
    cancelled: bool
    description: str
    location: str | None
    url: str


def vevent_facts(event: Event | Any) -> VeventFacts:
    zone = event.zone
    page = absolute_url(event.get_absolute_url())
    cancelled = event.status == Event.Status.CANCELLED
    description = ical_text(event.description).strip()
    lines = [description] if description else []
    if event.online_url:
        lines.append(f"Online: {ical_text(event.online_url, one_line=True)}")
    lines.append(page)
    title = ical_text(event.title, one_line=True)
    return VeventFacts(
        uid=event_uid(event), summary=f"Cancelled: {title}" if cancelled else title,
        start=exact_time(event.starts_at, zone), end=exact_time(event.ends_at, zone),
        stamp=event.updated_at, created=event.created_at, sequence=event.sequence, cancelled=cancelled,
        description="\n\n".join(lines),
        location=ical_text(event.venue, one_line=True) or ("Online" if event.online_url else None), url=page,
    )


def vevent_key(facts: VeventFacts) -> str:
    """Names these facts' VEVENT: any change to what it says is a new name (its repr holds each
    time's zone and fold, so a time written in UTC differs from the same wall-clock time zoned)."""
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:40]


def _vevent_of(facts: VeventFacts) -> icalendar.Event:
    return icalendar.Event.new(
        uid=facts.uid,
        summary=facts.summary,
        start=facts.start,
        end=facts.end,
        # Without METHOD, DTSTAMP is when the entry was last revised (RFC 5545 3.8.7.2).
        stamp=facts.stamp,
        created=facts.created,
        last_modified=facts.stamp,
        sequence=facts.sequence,
        status=STATUS.CANCELLED if facts.cancelled else STATUS.CONFIRMED,
        description=facts.description,
        location=facts.location,
        url=facts.url,
        transparency=TRANSP.TRANSPARENT if facts.cancelled else TRANSP.OPAQUE,
    )


def _vevent(event: Event) -> icalendar.Event:
    return _vevent_of(vevent_facts(event))


def vevent_ical(facts: VeventFacts) -> bytes:
    """The VEVENT's lines, as the library writes them inside a calendar."""
    return _vevent_of(facts).to_ical()


_CALENDAR_END = b"END:VCALENDAR\r\n"


def calendar_build(*, events: Iterable[Event | Any], name: str, uid: str, feed: bool,
                   vevents: Sequence[bytes] | None = None) -> bytes:
    # `events`: ours and other apps' (network.models.NetworkEvent has the same calendar fields).
    """An iCalendar object holding these events, each with its zone's VTIMEZONE.

    `uid` names the calendar itself (RFC 7986); `feed` adds the refresh hints of a subscription.
    `vevents`: each event's `vevent_ical`, when the caller has them already (kept copies).

    The library writes the calendar's own lines; the zones' and events' lines, each written by the
    library too, are put before its END line: the bytes the library would write for the whole
    calendar (the library writes a component's subcomponents after its properties, each whole),
    without re-reading each cached zone nor building every event again.
    """
    events = list(events)
    # Calendar.new writes NAME and the older X-WR-CALNAME that many clients still read.
    calendar = icalendar.Calendar.new(prodid=PRODID, name=ical_text(name, one_line=True), uid=uid)
    calendar.add("CALSCALE", "GREGORIAN")
    if feed:
        # RFC 7986 requires the VALUE=DURATION parameter on REFRESH-INTERVAL.
        calendar.add("REFRESH-INTERVAL", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", icalendar.vDuration(FEED_REFRESH))  # its older, still-read twin
    spans: dict[str, tuple[int, int]] = {}
    for event in events:
        zone_name = event.time_zone or "UTC"
        if zone_name == "UTC":
            continue  # written as UTC times (…Z): no VTIMEZONE needed
        zone = zone_named(zone_name)
        first, last = event.starts_at.astimezone(zone).year, event.ends_at.astimezone(zone).year
        known = spans.get(zone_name)
        spans[zone_name] = (min(first, known[0]), max(last, known[1])) if known else (first, last)
    if vevents is None:
        vevents = [vevent_ical(vevent_facts(event)) for event in events]
    head = calendar.to_ical()
    if not head.endswith(_CALENDAR_END):
        raise ValueError("the library ended the calendar otherwise")
    return b"".join([head[:-len(_CALENDAR_END)],
                     *(_vtimezone_ical(zone_name, first, last) for zone_name, (first, last) in sorted(spans.items())),
                     *vevents, _CALENDAR_END])


def event_ics(*, event: Event) -> bytes:
    """The single-event file behind "Add to calendar"."""
    return calendar_build(events=[event], name=event.title, uid=event_uid(event), feed=False)


def _feed_uid(kind: str, key: object) -> str:
    host = urlsplit(settings.ELONARA_PUBLIC_URL).hostname or "elonara.invalid"
    return f"{kind}-{key}@{host}"


def member_feed_ics(*, member, events: Iterable[Event | Any], vevents: Sequence[bytes] | None = None) -> bytes:
    return calendar_build(events=events, name=f"{member.name} · Elonara", uid=_feed_uid("member-feed", member.pk),
                          feed=True, vevents=vevents)


def community_feed_ics(*, community, events: Iterable[Event]) -> bytes:
    return calendar_build(events=events, name=f"{community.name} · Elonara",
                          uid=_feed_uid("community-feed", community.pk), feed=True)


def series_uid(series: EventSeries) -> str:
    return _feed_uid("series", series.pk)


def series_ics(*, series: EventSeries, occurrences: Iterable[Event], last_start) -> bytes:
    """The series as one repeating VEVENT: DTSTART in the series' zone, its RRULE (UNTIL in UTC
    or COUNT), an EXDATE per occurrence taken out, and an override (RECURRENCE-ID) for each
    occurrence edited on its own. `last_start`: the last instant to cover with the VTIMEZONE."""
    zone = series.zone
    page = absolute_url(series.get_absolute_url())
    calendar = icalendar.Calendar.new(prodid=PRODID, name=ical_text(series.title, one_line=True),
                                      uid=series_uid(series))
    calendar.add("CALSCALE", "GREGORIAN")
    if series.time_zone != "UTC":
        calendar.add_component(_vtimezone(series.time_zone, series.starts_at.astimezone(zone).year,
                                          last_start.astimezone(zone).year))
    master = icalendar.Event.new(
        uid=series_uid(series), summary=ical_text(series.title, one_line=True),
        start=series.starts_at.astimezone(zone), end=(series.starts_at + series.duration).astimezone(zone),
        stamp=series.updated_at, created=series.created_at, last_modified=series.updated_at,
        sequence=series.sequence, description="\n\n".join(filter(None, [ical_text(series.description).strip(),
                                                                         page])),
        location=ical_text(series.venue, one_line=True) or ("Online" if series.online_url else None), url=page,
    )
    rule = icalendar.vRecur.from_ical(series.rule)
    if series.until is not None:
        rule["UNTIL"] = [series.until.astimezone(UTC)]
    elif series.count is not None:
        rule["COUNT"] = [series.count]
    master.add("RRULE", rule)
    if series.excluded:
        master.add("EXDATE", [datetime.fromisoformat(k).astimezone(zone) for k in sorted(series.excluded)])
    calendar.add_component(master)
    for event in occurrences:
        # Edited on its own (not cancelled: those are EXDATEs): its own details under the series' UID.
        if event.sequence == 0 or event.is_cancelled or event.recurrence_id is None:
            continue
        override = _vevent(event)
        override["UID"] = series_uid(series)
        override.add("RECURRENCE-ID", event.recurrence_id.astimezone(zone))
        calendar.add_component(override)
    return calendar.to_ical()
