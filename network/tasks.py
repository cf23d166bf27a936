"""Celery adapters for network events: primary keys (or a DID) in, one service call.

All idempotent: the clean-up deletes by date, a profile or follows refresh overwrites, the RSVP
write is a putRecord at a fixed key."""

import logging

from celery import shared_task

from elonara.publishing import _backoff
from network import services

logger = logging.getLogger(__name__)

MAX_CRASHES = 5


@shared_task(name="network.cleanup", acks_late=True)
def cleanup() -> int:
    return services.network_events_cleanup()


@shared_task(name="network.refresh_creator", acks_late=True)
def refresh_creator(did: str) -> None:
    services.creator_profile_refresh(did=did)


@shared_task(name="network.refresh_follows", acks_late=True)
def refresh_follows(member_id: int) -> None:
    from members.models import Member

    member = Member.objects.filter(pk=member_id).first()
    if member is not None:
        services.member_follows_refresh(member=member)


@shared_task(name="network.publish_rsvp", bind=True, acks_late=True, max_retries=MAX_CRASHES)
def publish_rsvp(self, rsvp_id: int, slot_at: float | None = None) -> str:
    try:
        outcome = services.network_rsvp_publish(rsvp_id=rsvp_id, slot_at=slot_at)
    except Exception as exc:  # noqa: BLE001 - any crash: retry a few times, then give up visibly
        if self.request.retries >= MAX_CRASHES:
            logger.exception("network RSVP publish kept crashing", extra={"id": rsvp_id})
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries + 1)) from exc
    if outcome.retry_in is not None:
        publish_rsvp.apply_async(args=[rsvp_id], kwargs={"slot_at": outcome.slot_at}, countdown=outcome.retry_in)
    return outcome.state
