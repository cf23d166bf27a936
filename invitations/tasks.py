"""Celery adapters: take primary keys, call one service, own the re-scheduling.

Late acks (settings) mean a task killed mid-run is redelivered; `invitation_send` is idempotent
(conditional status moves, fixed record key), so redelivery or a duplicate message is harmless.
Waits longer than the dispatch horizon are never countdown messages: the due time is stored on the
invitation and `dispatch_due` (beat) publishes it when it is near (a Redis countdown message that
outlives the visibility timeout is delivered again and again).
"""

from __future__ import annotations

import logging

from celery import shared_task

from invitations import services

logger = logging.getLogger(__name__)

# A task that keeps crashing (not a Bluesky failure: those are results) gives up after this.
MAX_CRASHES = 5


# A dispatch round stops after this many batches; the next beat continues.
MAX_BATCHES_PER_ROUND = 20


@shared_task(name="invitations.dispatch_due", acks_late=True)
def dispatch_due() -> int:
    """Beat: publish the invitations due within the horizon, claimed in small batches."""
    published = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        claimed = services.invitations_claim_due()
        if not claimed:
            break
        # One producer (one broker connection) per batch instead of one per message.
        with send_invitation.app.producer_or_acquire() as producer:
            for item in claimed:
                send_invitation.apply_async(args=[item.invitation_id], kwargs={"slot_at": item.slot_at},
                                            countdown=item.countdown or None, producer=producer)
        published += len(claimed)
    return published


@shared_task(name="invitations.dispatch_batch", acks_late=True)
def dispatch_batch(batch_id: int) -> int:
    """Kept for messages published by an older version: its pending rows become due now."""
    moved = services.invitation_batch_dispatch(batch_id=batch_id)
    dispatch_due.delay()
    return moved


@shared_task(name="invitations.send_invitation", bind=True, acks_late=True, max_retries=MAX_CRASHES)
def send_invitation(self, invitation_id: int, slot_at: float | None = None) -> str:
    try:
        outcome = services.invitation_send(invitation_id=invitation_id, slot_at=slot_at)
    except Exception as exc:  # noqa: BLE001 - any crash: retry a few times, then fail visibly
        if self.request.retries >= MAX_CRASHES:
            logger.exception("invitation send kept crashing", extra={"invitation": invitation_id})
            services.invitation_fail_exhausted(invitation_id=invitation_id, reason="Internal error while sending.")
            return "failed"
        raise self.retry(exc=exc, countdown=services._backoff(self.request.retries + 1)) from exc
    if outcome.retry_in is not None:
        # A short wait (within the dispatch horizon, well under the visibility timeout): a new
        # message (not self.retry: pacing waits and 429s are not failures). Longer ones are stored.
        send_invitation.apply_async(args=[invitation_id], kwargs={"slot_at": outcome.slot_at},
                                    countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="invitations.requeue_stale")
def requeue_stale() -> int:
    """Beat, every 15 minutes: publish again what a lost broker message left waiting."""
    return services.invitations_requeue_stale()
