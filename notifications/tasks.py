"""Celery adapters: beat (and a wake-up after each commit that queued mail) runs `dispatch_due`,
which claims due mail in batches and hands each batch to `send_claimed`.

Both are idempotent: a claim is taken under SKIP LOCKED, and each mail moves PENDING -> SENDING
under its claim before it is sent, so a duplicated or redelivered message sends nothing twice.
"""

from __future__ import annotations

from celery import shared_task

from notifications import services

# A dispatch round stops after this many batches; the next beat (or wake-up) continues.
MAX_BATCHES_PER_ROUND = 50


@shared_task(name="notifications.dispatch_due", acks_late=True)
def dispatch_due() -> int:
    claims = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        claim = services.mail_claim_due()
        if claim is None:
            break
        send_claimed.delay(claim)
        claims += 1
    return claims


@shared_task(name="notifications.send_claimed", acks_late=True)
def send_claimed(claim: str) -> dict:
    report = services.mail_send_claimed(claim=claim)
    return {"sent": report.sent, "skipped": report.skipped, "failed": report.failed, "retry": report.retry}
