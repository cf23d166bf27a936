"""Celery tasks of the feeds app. Idempotent: publishing writes every feed record with putRecord
at fixed record keys, so a run repeated (redelivery, two changes close together) changes nothing."""

from __future__ import annotations

from celery import shared_task

from feeds import services


@shared_task(name=services.PUBLISH_TASK, acks_late=True)
def publish() -> int:
    return len(services.feeds_publish())
