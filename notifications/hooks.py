"""The calls the events services make (inside their transaction); mail is queued on commit.

Kept as plain functions so `elonara/services.py` needs one line per hook and knows nothing
about mail.
"""

from __future__ import annotations

from elonara.models import Event, HostMessage


def event_changed(*, before: Event, after: Event) -> None:
    from notifications import services

    services.event_changed(before=before, after=after)


def event_cancelled(*, event: Event) -> None:
    from notifications import services

    services.event_cancelled(event=event)


def questions_ask(*, event: Event, member_ids: list[int]) -> None:
    from notifications import services

    services.questions_ask(event=event, member_ids=member_ids)


def host_message_sent(*, message: HostMessage) -> None:
    from notifications import services

    services.host_message_queue(message=message)
