"""Celery adapters: take primary keys, call one service, own the re-scheduling.

The publishing tasks are idempotent (fixed record keys, read-merge-write), so a redelivered or
duplicated message is harmless. Pacing waits and 429s come back as `retry_in`: a new message,
not a failure.
"""

import logging

from celery import shared_task

from elonara import publishing
from elonara.services import event_recount

logger = logging.getLogger(__name__)

MAX_CRASHES = 5


@shared_task(acks_late=True)
def event_refresh_counts(event_id: int) -> None:
    event_recount(event_id=event_id)


@shared_task(acks_late=True)
def outside_rsvp_handles_resolve(ids: list[int]) -> None:
    """Handle lookups of outside answers' accounts (network calls: never in the firehose consumer)."""
    from elonara.firehose import outside_rsvp_handles_resolve as resolve

    resolve(ids=ids)


def _crashed(task, exc: Exception, what: str, ident: int):
    if task.request.retries >= MAX_CRASHES:
        logger.exception("%s kept crashing", what, extra={"id": ident})
        return "failed"
    raise task.retry(exc=exc, countdown=publishing._backoff(task.request.retries + 1)) from exc


@shared_task(name="elonara.publish_event", bind=True, acks_late=True, max_retries=MAX_CRASHES)
def publish_event(self, event_id: int, slot_at: float | None = None) -> str:
    try:
        outcome = publishing.event_publish(event_id=event_id, slot_at=slot_at)
    except Exception as exc:  # noqa: BLE001 - any crash: retry a few times, then give up visibly
        return _crashed(self, exc, "event publish", event_id)
    if outcome.retry_in is not None:
        publish_event.apply_async(args=[event_id], kwargs={"slot_at": outcome.slot_at}, countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="elonara.publish_rsvp", bind=True, acks_late=True, max_retries=MAX_CRASHES)
def publish_rsvp(self, rsvp_id: int, slot_at: float | None = None, waits: int = 0) -> str:
    try:
        outcome = publishing.rsvp_publish(rsvp_id=rsvp_id, slot_at=slot_at, waits=waits)
    except Exception as exc:  # noqa: BLE001
        return _crashed(self, exc, "RSVP publish", rsvp_id)
    if outcome.retry_in is not None:
        publish_rsvp.apply_async(args=[rsvp_id], kwargs={"slot_at": outcome.slot_at,
                                                         "waits": waits + int(outcome.waiting_for_event)},
                                 countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="elonara.delete_record", bind=True, acks_late=True, max_retries=MAX_CRASHES)
def delete_record(self, member_id: int, collection: str, rkey: str, slot_at: float | None = None,
                  attempt: int = 1) -> str:
    try:
        outcome = publishing.record_delete(member_id=member_id, collection=collection, rkey=rkey, slot_at=slot_at,
                                           attempt=attempt)
    except Exception as exc:  # noqa: BLE001
        return _crashed(self, exc, "record delete", member_id)
    if outcome.retry_in is not None:
        next_attempt = attempt + int(outcome.slot_at is None)  # a pacing wait is not an attempt
        delete_record.apply_async(args=[member_id, collection, rkey],
                                  kwargs={"slot_at": outcome.slot_at, "attempt": next_attempt},
                                  countdown=outcome.retry_in)
    return outcome.state


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
