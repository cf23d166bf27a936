"""Celery adapters: take primary keys, call one service, own the re-scheduling.

Late acks (settings) mean a task killed mid-run is redelivered; `invitation_send` is idempotent
(conditional status moves, fixed record key), so redelivery or a duplicate message is harmless.
Waits longer than the dispatch horizon are never countdown messages: the due time is stored on the
invitation and the one dispatcher (`bluesky.dispatch_due`, beat) publishes it when it is near.
"""

from __future__ import annotations

import logging

from celery import shared_task

from bluesky import pipeline
from bluesky.tasks import dispatch_due  # noqa: F401 - the one dispatcher (invitations are one of its sources)
from invitations import services

logger = logging.getLogger(__name__)

# A task that keeps crashing (not a Bluesky failure: those are results) gives up after this.
MAX_CRASHES = 5


@shared_task(name=services.SEND_TASK, bind=True, acks_late=True, max_retries=MAX_CRASHES)
def send_invitation(self, invitation_id: int, slot_at: float | None = None) -> str:
    try:
        outcome = services.invitation_send(invitation_id=invitation_id, slot_at=slot_at)
    except Exception as exc:
        if self.request.retries >= MAX_CRASHES:
            logger.exception("invitation send kept crashing", extra={"invitation": invitation_id})
            services.invitation_fail_exhausted(invitation_id=invitation_id, reason="Internal error while sending.")
            return "failed"
        raise self.retry(exc=exc, countdown=pipeline.backoff(self.request.retries + 1)) from exc
    if outcome.retry_in is not None:
        # A short wait (within the dispatch horizon, well under the visibility timeout): a new
        # message (not self.retry: pacing waits and 429s are not failures). Longer ones are stored.
        send_invitation.apply_async(args=[invitation_id], kwargs={"slot_at": outcome.slot_at},
                                    countdown=outcome.retry_in)
    return outcome.status
