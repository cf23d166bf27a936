"""An event's time as words in the active language, always in the event's own zone with the zone
named: "Saturday 3 July 2027, 19:30–21:00, Berlin time (UTC+2)", "2027年7月3日(土) 19:30–21:00, …".

The order of day, month and weekday is the language's, from the named formats of config/formats
(read through Django's get_format, so the active language decides); only the span's shape (a
one-day event says its date once) is decided here. Pages, mails, link cards and posts all call this.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import formats

from elonara.models import zone_label, zone_named


def event_when(*, starts_at: datetime, ends_at: datetime, time_zone: str, short: bool = False) -> str:
    """The span from `starts_at` to `ends_at` in `time_zone`, with the zone's label; `short` for
    cards and lists (abbreviated weekday and month)."""
    zone = zone_named(time_zone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day_time = "EVENT_SHORT_FORMAT" if short else "EVENT_DAY_TIME_FORMAT"
    first = formats.date_format(start, day_time)
    if start.date() == end.date():
        span = f"{first}–{formats.time_format(end, 'EVENT_TIME_FORMAT')}"
    else:
        span = f"{first} – {formats.date_format(end, day_time)}"
    return f"{span}, {zone_label(time_zone, starts_at)}"
