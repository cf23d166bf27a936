"""Repeat rules (RFC 5545 RRULE) for event series, expanded with python-dateutil. No database.

A series repeats in its own time zone's wall-clock time: the rule is expanded from a naive local
start (so "every Tuesday 19:00" stays 19:00 across daylight-saving changes), and each local
instant is then placed in the zone. UNTIL is kept in UTC, as RFC 5545 3.3.10 asks when DTSTART
names a zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil import rrule

PRESETS = ("weekly", "biweekly", "monthly_nth")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Finer frequencies make no sense for events and would let one form fill the database.
_ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
# Parts a member's custom rule may not carry: the start, end and count are ours to set.
_RESERVED = {"DTSTART", "UNTIL", "COUNT"}
MAX_SCAN = 2000  # instances looked at per expansion, whatever the rule


class RuleError(ValueError):
    """The rule cannot be used; the message is for people."""


def _nth_of_month(local_start: datetime) -> int:
    """1..4 for the first..fourth weekday of its kind in the month; -1 for a fifth (the last)."""
    nth = (local_start.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


def preset_rule(kind: str, *, local_start: datetime) -> str:
    """The RRULE value of a preset, on the start's weekday (and its place in the month)."""
    day = _WEEKDAYS[local_start.weekday()]
    if kind == "weekly":
        return f"FREQ=WEEKLY;BYDAY={day}"
    if kind == "biweekly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={day}"
    if kind == "monthly_nth":
        return f"FREQ=MONTHLY;BYDAY={_nth_of_month(local_start)}{day}"
    raise RuleError("Pick how the event repeats.")


def rule_clean(text: str) -> str:
    """A member's custom RRULE value, checked and normalised (upper case, no RRULE: prefix)."""
    value = text.strip().upper().removeprefix("RRULE:")
    if not value or len(value) > 300 or "\n" in value:
        raise RuleError("Write the rule as one RRULE line, e.g. FREQ=WEEKLY;BYDAY=TU,TH.")
    parts = dict(part.partition("=")[::2] for part in value.split(";") if part)
    if parts.keys() & _RESERVED:
        raise RuleError("Set the end with the end date or the number of times, not in the rule.")
    if parts.get("FREQ") not in _ALLOWED_FREQ:
        raise RuleError("The rule repeats daily, weekly, monthly or yearly (FREQ=...).")
    try:
        rrule.rrulestr(f"RRULE:{value}", dtstart=datetime(2026, 1, 1, 12, 0))
    except (ValueError, TypeError) as exc:
        raise RuleError("This is not a rule we can read (RFC 5545 RRULE).") from exc
    return value


def _rule_set(rule: str, *, local_start: datetime, until: datetime | None, count: int | None,
              zone: ZoneInfo) -> rrule.rrule:
    text = rule
    if until is not None:
        # dateutil wants UNTIL like DTSTART (naive local): the same instant on the zone's clock.
        text += ";UNTIL=" + until.astimezone(zone).replace(tzinfo=None).strftime("%Y%m%dT%H%M%S")
    elif count is not None:
        text += f";COUNT={count}"
    parsed = rrule.rrulestr(f"RRULE:{text}", dtstart=local_start.replace(tzinfo=None))
    if not isinstance(parsed, rrule.rrule):  # one RRULE line gives one rule, never a set
        raise RuleError("This is not a rule we can read (RFC 5545 RRULE).")
    return parsed


def instants(rule: str, *, local_start: datetime, zone: ZoneInfo, until: datetime | None = None,
             count: int | None = None) -> Iterator[datetime]:
    """The starts the rule gives, as aware UTC datetimes, in order (at most MAX_SCAN)."""
    for n, local in enumerate(_rule_set(rule, local_start=local_start, until=until, count=count, zone=zone)):
        if n >= MAX_SCAN:
            return
        # A wall time in a DST gap exists nowhere: zoneinfo places it with the offset before the
        # change (fold=0), which is one hour later on the clock, as calendar apps do.
        yield local.replace(tzinfo=zone).astimezone(UTC)


def describe(kind: str, *, local_start: datetime, rule: str) -> str:
    """The rule in words for the series page."""
    day = local_start.strftime("%A")
    if kind == "weekly":
        return f"Every {day}"
    if kind == "biweekly":
        return f"Every other {day}"
    if kind == "monthly_nth":
        nth = _nth_of_month(local_start)
        place = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}[nth]
        return f"Every month on the {place} {day}"
    return f"Custom rule: {rule}"
