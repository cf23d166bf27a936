"""50 members answer "going" at the same moment to a 20-seat event, each on their own database
connection (real PostgreSQL): exactly 20 get seats, 30 wait in the order their answers were
taken, and a cancellation gives the freed seat to the first in line."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from elonara import selectors, services
from elonara.models import RSVP, Event
from members.models import Member

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_fifty_parallel_going_on_twenty_seats():
    if connection.vendor != "postgresql":
        pytest.fail("the services tier runs on PostgreSQL")
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="Workshop", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Lab", capacity=20)
    members = [Member.objects.create_user(username=f"m{i:02}", password="pw-long-enough-123") for i in range(50)]
    barrier = threading.Barrier(len(members))
    errors: list[BaseException] = []

    def answer(member: Member) -> None:
        try:
            barrier.wait(timeout=60)
            services.rsvp_set(event=Event.objects.get(pk=event.pk), member=member, status="going")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=answer, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert RSVP.objects.filter(event=event, status="going").count() == 20
    line = list(selectors.event_waitlist(event=event))
    assert len(line) == 30
    # In order: each answer was taken under the event's lock, so the line is the order of the rows.
    assert [r.pk for r in line] == sorted(r.pk for r in line)
    assert all(a.queued_at <= b.queued_at for a, b in zip(line, line[1:], strict=False))
    # Every going row was created before every waiting one: no seat was given after the line began.
    going = RSVP.objects.filter(event=event, status="going")
    assert max(going.values_list("pk", flat=True)) < line[0].pk

    leaving = going.first().member
    services.rsvp_set(event=event, member=leaving, status="not_going")
    assert RSVP.objects.get(pk=line[0].pk).status == "going"
    assert RSVP.objects.filter(event=event, status="going").count() == 20
    assert [r.pk for r in selectors.event_waitlist(event=event)] == [r.pk for r in line[1:]]
