"""Celery adapters: take primary keys, call one service.

`write_record` runs one attempt of a record write; `dispatch_due` (beat) publishes every write
(record writes, invitations) whose due time falls within the dispatch horizon. Neither ever
publishes a countdown longer than the horizon: longer waits are due times in the database.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from bluesky import pipeline
from bluesky.profiles import member_profiles_refresh
from bluesky.services import oauth_requests_cleanup
from core.tasks import task_named

logger = logging.getLogger(__name__)

# A dispatch round stops after this many batches; the next beat continues.
MAX_BATCHES_PER_ROUND = 20


def _due_now_per_round() -> int:
    """A round also stops once it has published this many messages due now (first attempts, which
    reserve their slot): a round flooding the queue with them makes the paced messages behind them
    late (a batch of 200 took 14.6 s to drain). The next beat continues."""
    return int(settings.INVITATIONS_DISPATCH_BATCH)


@shared_task
def oauth_requests_cleanup_task() -> int:
    return oauth_requests_cleanup()


@shared_task(name=pipeline.RUN_TASK, acks_late=True)
def write_record(token: str) -> str:
    """One attempt of one record write; a duplicate delivery does nothing (see bluesky.pipeline).
    A crash leaves the row leased: the dispatcher publishes it again when the lease ends."""
    return pipeline.record_write_run(token=token)


@shared_task(name=pipeline.DISPATCH_TASK, acks_late=True)
def dispatch_due() -> int:
    """Beat: publish every write due within the horizon, claimed in small batches."""
    published = due_now = 0
    app = write_record.app
    for _ in range(MAX_BATCHES_PER_ROUND):
        if due_now >= _due_now_per_round():
            break
        claimed = pipeline.claim_due_round()
        if not claimed:
            break
        # One producer (one broker connection) per batch instead of one per message.
        with app.producer_or_acquire() as producer:
            for item in claimed:
                task_named(item.task).apply_async(args=item.args, kwargs=item.kwargs,
                                                  countdown=item.countdown or None, producer=producer)
        published += len(claimed)
        due_now += sum(1 for item in claimed if item.countdown < 1.0)
    return published


@shared_task(name="bluesky.member_profiles_refresh")
def member_profiles_refresh_task(member_id: int | None = None) -> int:
    """Members' faces from the App View: one member (on connect) or every stale one (beat, daily).
    Idempotent: it reads and writes what the App View says now."""
    if member_id is None:
        return member_profiles_refresh(stale_only=True)
    return member_profiles_refresh(member_ids=[member_id])
