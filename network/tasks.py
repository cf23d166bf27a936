"""Celery adapters for network events: primary keys (or a DID) in, one service call.

All idempotent: the clean-up deletes by date, a profile or follows refresh overwrites. Answers'
RSVP records are written by the write pipeline's task (bluesky.pipeline)."""

import logging

from celery import shared_task

from network import services

logger = logging.getLogger(__name__)



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
