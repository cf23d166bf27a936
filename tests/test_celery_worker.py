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
            return (e.going_count, e.maybe_count) == (3, 1)  # the host and two guests going

        assert wait_for(counted, timeout=60), (tmp_path / "worker.log").read_text()[-3000:]


@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_task_comes_back_after_visibility_timeout_plus_restore_interval(tmp_path):
    """SIGKILL a worker holding a task; a new worker runs it once the message is older than the
    visibility timeout, at its next restore sweep (CELERY_UNACKED_RESTORE_INTERVAL). With kombu's
    default sweep (every 100 s) this would not come back within the wait below."""
    import signal
    import time

    from elonara.models import RSVP
    from elonara.tasks import event_refresh_counts
    from tests.invitations.peer_helpers import purge_queue

    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=1)
    event = services.event_create(host=host, title="Launch", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Roof")
    guest = Member.objects.create_user(username="guest", password="pw-long-enough-123")
    RSVP.objects.create(event=event, member=guest, status=RSVP.Status.GOING)  # counted only by the task
    env = {"CELERY_VISIBILITY_TIMEOUT": "4", "CELERY_UNACKED_RESTORE_INTERVAL": "2"}
    purge_queue()
    with celery_worker(extra_env=env, log_path=tmp_path / "first.log") as first:
        time.sleep(3)  # consuming
        # A countdown: the worker takes the message at once and holds it, unacknowledged, until due.
        event_refresh_counts.apply_async(args=[event.pk], countdown=2)
        time.sleep(1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        lost_at = time.monotonic()
    assert Event.objects.get(pk=event.pk).going_count == 1  # the host's seat, counted with the event
    with celery_worker(extra_env=env, log_path=tmp_path / "second.log"):
        came_back = wait_for(lambda: Event.objects.get(pk=event.pk).going_count == 2, timeout=45, interval=0.5)
        print(f"redelivered after {time.monotonic() - lost_at:.1f} s (visibility 4 s, restore interval 2 s)")
    assert came_back, (tmp_path / "second.log").read_text()[-3000:]
