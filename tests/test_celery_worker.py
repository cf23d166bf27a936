"""A real task through Redis to a real Celery worker process, observed in the database."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from elonara import services
from elonara.models import Event
from members.models import Member
from tests.celery_worker import celery_worker, wait_for

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)"),
]


@pytest.mark.django_db(transaction=True)
def test_rsvp_counts_are_updated_by_a_real_worker(tmp_path):
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    guests = [Member.objects.create_user(username=f"g{i}", password="pw-long-enough-123") for i in range(3)]
    start = timezone.now() + timedelta(days=1)
    event = services.event_create(host=host, title="Launch", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Roof")
    with celery_worker(log_path=tmp_path / "worker.log"):
        # Each RSVP commits, then enqueues event_refresh_counts through Redis.
        services.rsvp_set(event=event, member=guests[0], status="going")
        services.rsvp_set(event=event, member=guests[1], status="going")
        services.rsvp_set(event=event, member=guests[2], status="maybe")

        def counted():
            e = Event.objects.get(pk=event.pk)
            return (e.going_count, e.maybe_count) == (2, 1)

        assert wait_for(counted, timeout=60), (tmp_path / "worker.log").read_text()[-3000:]
