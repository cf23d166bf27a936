"""The calls the events services make (inside their transaction); mail is queued on commit.

Kept as two plain functions so `elonara/services.py` needs one line per hook and knows nothing
about mail.
"""

from __future__ import annotations

from elonara.models import Event


def event_changed(*, before: Event, after: Event) -> None:
    from notifications import services

    services.event_changed(before=before, after=after)


def event_cancelled(*, event: Event) -> None:
    from notifications import services

    services.event_cancelled(event=event)
