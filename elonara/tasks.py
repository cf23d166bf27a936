"""Celery adapters: take primary keys, call one service.

Event and RSVP records are written by the write pipeline's own task (`bluesky.write_record`), each
wait a due time in the database (see bluesky.pipeline).
"""

from celery import shared_task

from elonara.services import event_recount


@shared_task(acks_late=True)
def event_refresh_counts(event_id: int) -> None:
    event_recount(event_id=event_id)


@shared_task(acks_late=True)
def outside_rsvp_handles_resolve(ids: list[int]) -> None:
    """Handle lookups of outside answers' accounts (network calls: never in the firehose consumer)."""
    from elonara.outside_answers import outside_rsvp_handles_resolve as resolve

    resolve(ids=ids)


@shared_task(name="elonara.extend_series", acks_late=True)
def extend_series() -> int:
    """Beat: make the next occurrences of every live series (idempotent)."""
    from elonara.series import series_extend_all

    return series_extend_all()


@shared_task(name="elonara.refresh_conversation", acks_late=True)
def refresh_conversation(event_id: int) -> None:
    """Read the event's Bluesky thread once (idempotent: it overwrites the stored replies)."""
    from elonara.conversation import conversation_refresh

    conversation_refresh(event_id=event_id)
