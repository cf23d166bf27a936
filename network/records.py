"""community.lexicon.calendar.event records written by any app -> the fields we keep and show.

Pure, no I/O, no database. The record is untrusted: it is checked against the bundled lexicon
first, then bounded (a record can carry megabytes of description; the firehose allows frames of
several MB), then read defensively (unknown location kinds are skipped, only https links kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from bluesky.atproto.nsid import EVENT_NSID
from bluesky.lexicon import record_problems
from bluesky.records import is_valid_datetime

_TOKEN_PREFIX = f"{EVENT_NSID}#"

# Bounds on what we keep. A record over them is dropped whole (not truncated): a 10 MB
# description is abuse or a bug, not an event anyone should read here.
MAX_NAME_CHARS = 300
MAX_DESCRIPTION_BYTES = 30_000
MAX_PLACE_CHARS = 500
MAX_URL_CHARS = 1000
MAX_LOCATIONS = 20

MODES = ("inperson", "virtual", "hybrid")

# Bluesky's labels that keep an event (or every event of an account) off our pages. Elonara has no
# adult-content setting and lists events to everyone, visitors included, so the labels Bluesky
# blurs or hides by default for adult content are hidden here too; `!warn` and other informational
# labels are not. Order: the first found is the reason given.
# Lazy: said in the language of the page that explains why an event is hidden.
HIDING_LABELS = {
    "!takedown": _("taken down by a moderation service"),
    "!suspend": _("the account is suspended"),
    "!hide": _("labelled to be hidden"),
    "porn": _("labelled as adult content (porn)"),
    "sexual": _("labelled as sexual content"),
    "nudity": _("labelled as containing nudity"),
    "graphic-media": _("labelled as graphic media"),
    "gore": _("labelled as graphic media (gore)"),
}
MAX_LABELS = 20
STATUSES = ("scheduled", "planned", "cancelled", "postponed", "rescheduled")


class RecordRejected(Exception):
    """Not kept. `code` (closed set, used as a metric label): invalid | too_large | no_start | bad_time."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(message or code)


@dataclass(frozen=True)
class EventFields:
    name: str
    description: str
    starts_at: datetime
    ends_at: datetime
    has_end: bool
    utc_offset_minutes: int
    mode: str
    status: str
    place: str
    online_url: str
    link_url: str
    # The first hiding label among the record's self-labels (HIDING_LABELS), or "".
    hidden_label: str = ""


def hiding_label(values: Any) -> str:
    """The first of `values` (label values, strings) that hides, or ""."""
    found = [v for v in values if isinstance(v, str)] if isinstance(values, list | tuple) else []
    return next((label for label in HIDING_LABELS if label in found), "")


def self_label_values(labels: Any) -> list[str]:
    """The values of a record's self-labels (`com.atproto.label.defs#selfLabels`), bounded."""
    if not isinstance(labels, dict) or labels.get("$type") != "com.atproto.label.defs#selfLabels":
        return []
    values = labels.get("values")
    if not isinstance(values, list):
        return []
    return [v["val"] for v in values[:MAX_LABELS] if isinstance(v, dict) and isinstance(v.get("val"), str)]


def profile_label_values(labels: Any) -> list[str]:
    """The values of the labels an App View profile carries (its own and its labellers'), without
    negations, bounded."""
    if not isinstance(labels, list):
        return []
    return [item["val"] for item in labels[:MAX_LABELS * 5]
            if isinstance(item, dict) and isinstance(item.get("val"), str) and item.get("neg") is not True]


def _https(value: Any) -> str:
    # Only https links are shown (no javascript:, data:, or http downgrades from a stranger's record).
    if isinstance(value, str) and value.startswith("https://") and len(value) <= MAX_URL_CHARS \
            and not any(c.isspace() for c in value):
        return value
    return ""


def _token(value: Any, allowed: tuple[str, ...], default: str) -> str:
    if isinstance(value, str) and value.startswith(_TOKEN_PREFIX):
        name = value.removeprefix(_TOKEN_PREFIX)
        if name in allowed:
            return name
    return default


def _place_of(location: dict[str, Any]) -> str:
    kind = location.get("$type")
    parts: list[Any] = []  # checked below: only non-empty strings are kept
    if kind == "community.lexicon.location.address":
        parts = [location.get(k) for k in ("name", "street", "locality", "region", "postalCode", "country")]
    elif kind == "community.lexicon.location.geo":
        name = location.get("name")
        lat, lon = location.get("latitude"), location.get("longitude")
        parts = [name] if name else [f"{lat}, {lon}" if isinstance(lat, str) and isinstance(lon, str) else None]
    elif kind in ("community.lexicon.location.fsq", "community.lexicon.location.hthree"):
        parts = [location.get("name")]
    return ", ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _parse_time(value: Any) -> datetime | None:
    if not is_valid_datetime(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _refuse_too_large(record: dict[str, Any]) -> None:
    description = record.get("description", "")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION_BYTES:
        raise RecordRejected("too_large")
    if isinstance(description, str) and len(description.encode()) > MAX_DESCRIPTION_BYTES:
        raise RecordRejected("too_large")
    name = record.get("name")
    if isinstance(name, str) and len(name) > MAX_NAME_CHARS * 4:
        raise RecordRejected("too_large")
    locations = record.get("locations") or []
    uris = record.get("uris") or []
    if (isinstance(locations, list) and len(locations) > MAX_LOCATIONS) or \
            (isinstance(uris, list) and len(uris) > MAX_LOCATIONS):
        raise RecordRejected("too_large")


def _places(locations: list[Any]) -> tuple[str, str]:
    """(the places named, joined and bounded; the first https online link) of the locations."""
    place_parts: list[str] = []
    online_url = ""
    for location in locations:
        if not isinstance(location, dict):
            continue
        if location.get("$type") == f"{EVENT_NSID}#uri":
            online_url = online_url or _https(location.get("uri"))
        else:
            text = _place_of(location)
            if text and text not in place_parts:
                place_parts.append(text)
    return "; ".join(place_parts)[:MAX_PLACE_CHARS], online_url


def _first_link(uris: list[Any]) -> str:
    for item in uris:
        if isinstance(item, dict) and (link := _https(item.get("uri"))):
            return link
    return ""


def event_fields(record: Any) -> EventFields:
    """What we keep of an event record, or RecordRejected."""
    if not isinstance(record, dict):
        raise RecordRejected("invalid")
    # Size first: validating megabytes would be work spent on something we drop anyway.
    _refuse_too_large(record)
    description, name = record.get("description", ""), record.get("name")
    locations, uris = record.get("locations") or [], record.get("uris") or []
    if record.get("$type") != EVENT_NSID or record_problems(EVENT_NSID, record):
        raise RecordRejected("invalid")
    starts_at = _parse_time(record.get("startsAt"))
    if starts_at is None:
        raise RecordRejected("no_start")  # an event with no start cannot be listed as upcoming
    ends_at = _parse_time(record.get("endsAt")) if "endsAt" in record else None
    if ends_at is not None and ends_at < starts_at:
        raise RecordRejected("bad_time")
    offset = starts_at.utcoffset()
    place, online_url = _places(locations)
    return EventFields(
        name=" ".join(name.split())[:MAX_NAME_CHARS] if isinstance(name, str) else "Untitled event",
        description=description.strip() if isinstance(description, str) else "",
        starts_at=starts_at,
        ends_at=ends_at or starts_at,
        has_end=ends_at is not None,
        utc_offset_minutes=int(offset.total_seconds() // 60) if offset is not None else 0,
        mode=_token(record.get("mode"), MODES, "inperson"),
        status=_token(record.get("status"), STATUSES, "scheduled"),
        place=place,
        online_url=online_url,
        link_url=_first_link(uris),
        hidden_label=hiding_label(self_label_values(record.get("labels"))),
    )
