"""The "create an event" link other apps can hand us: `/events/new/?title=...&start=...`.

Pure (no I/O, no database): query-string values -> the new-event form's initial values, plus a
note for each value that was given but not understood. Nothing here saves: the form is shown for
the host to check, and only their click on "Publish" creates the event. Every value is untrusted
(any site can link here), so each is bounded and checked as the form would, and a bad one is left
out with a note rather than refused with an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# The query-string names, documented in the README ("Links for other apps").
PARAMS = ("title", "start", "end", "tz", "place", "link", "description")
MAX_TITLE = 200
MAX_PLACE = 255
MAX_LINK = 500
MAX_DESCRIPTION = 5000
_FORM_TIME = "%Y-%m-%dT%H:%M"


@dataclass
class Prefill:
    initial: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def given(self) -> bool:
        return bool(self.initial or self.notes)


def _text(value: str, limit: int) -> str:
    # One line for one-line fields: stray newlines or tabs from a link become spaces.
    return " ".join(value.split())[:limit]


def _zone(value: str) -> ZoneInfo | None:
    if not value or len(value) > 64:
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _when(value: str, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 time: with an offset (or Z) it is converted to `zone`; without one it is read as
    a wall-clock time in `zone`. Seconds are dropped (the form has minutes)."""
    if not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone).replace(tzinfo=None)
    return parsed.replace(second=0, microsecond=0)


def event_prefill(params: Mapping[str, str], *, zone_ids: set[str] | frozenset[str]) -> Prefill:
    """The form's initial values from the link's query string, and notes on what was left out.
    `zone_ids`: the time zones the form offers (a `tz` outside them is left out)."""
    result = Prefill()
    given = {name: str(params.get(name, "")).strip() for name in PARAMS}
    if title := _text(given["title"], MAX_TITLE):
        result.initial["title"] = title
    zone = _zone_fill(result, given["tz"], zone_ids=zone_ids)
    _times_fill(result, start=given["start"], end=given["end"], zone=zone)
    if place := _text(given["place"], MAX_PLACE):
        result.initial["venue"] = place
    if given["link"]:
        _link_fill(result, given["link"])
    if description := given["description"].replace("\r\n", "\n")[:MAX_DESCRIPTION].strip():
        result.initial["description"] = description
    return result


def _zone_fill(result: Prefill, tz: str, *, zone_ids: set[str] | frozenset[str]) -> ZoneInfo:
    """The zone the link's times are read in (the form's `time_zone` when the link names one it
    offers; UTC otherwise, with a note when the link named another)."""
    zone = _zone(tz) if tz in zone_ids else None
    if tz and zone is None:
        result.notes.append("The time zone in the link was not recognised; the times are read as UTC.")
    if zone is None:
        return ZoneInfo("UTC")
    result.initial["time_zone"] = tz
    return zone


def _times_fill(result: Prefill, *, start: str, end: str, zone: ZoneInfo) -> None:
    starts = _when(start, zone)
    ends = _when(end, zone)
    if start and starts is None:
        result.notes.append("The start time in the link was not understood and was left out.")
    if end and ends is None:
        result.notes.append("The end time in the link was not understood and was left out.")
    if starts is not None and ends is not None and ends <= starts:
        result.notes.append("The end time in the link was not after the start and was left out.")
        ends = None
    if starts is not None:
        result.initial["starts_at"] = starts.strftime(_FORM_TIME)
    if ends is not None:
        result.initial["ends_at"] = ends.strftime(_FORM_TIME)


def _link_fill(result: Prefill, link: str) -> None:
    try:
        if len(link) > MAX_LINK or not link.startswith("https://"):
            raise ValidationError("not https")
        URLValidator(schemes=["https"])(link)
    except ValidationError:
        result.notes.append("The online link given was not an https:// address and was left out.")
    else:
        result.initial["online_url"] = link
