"""Celery adapters: take primary keys, call one service, own the re-scheduling.

Late acks (settings) mean a task killed mid-run is redelivered; `invitation_send` is idempotent
(conditional status moves, fixed record key), so redelivery or a duplicate message is harmless.
"""

from __future__ import annotations

import logging

from celery import shared_task

from invitations import services

logger = logging.getLogger(__name__)

# A task that keeps crashing (not a Bluesky failure: those are results) gives up after this.
MAX_CRASHES = 5


@shared_task(name="invitations.dispatch_batch", acks_late=True)
def dispatch_batch(batch_id: int) -> int:
    ids = services.invitation_batch_dispatch(batch_id=batch_id)
    # One producer (one broker connection) for the whole batch instead of one per message.
    with send_invitation.app.producer_or_acquire() as producer:
        for invitation_id in ids:
            send_invitation.apply_async(args=[invitation_id], producer=producer)
    return len(ids)


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
        # A new message (not self.retry): pacing waits and 429s are not failures.
        send_invitation.apply_async(args=[invitation_id], kwargs={"slot_at": outcome.slot_at},
                                    countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="invitations.requeue_stale")
def requeue_stale() -> int:
    """Beat, every 15 minutes: publish again what a lost broker message left waiting."""
    return services.invitations_requeue_stale()
