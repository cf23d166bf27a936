"""50 members answer "going" at the same moment (all on the page, or half on the page and half by
records written in another app) to a 20-seat event, each on their own database
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
    # The host holds one of the 20 seats (elonara.answers, Door.HOST): 19 of the 50 get the others.
    assert RSVP.objects.filter(event=event, status="going").count() == 20
    line = list(selectors.event_waitlist(event=event))
    assert len(line) == 31
    # In order: each answer was taken under the event's lock, so the line is the order of the rows.
    assert [r.pk for r in line] == sorted(r.pk for r in line)
    assert all(a.queued_at <= b.queued_at for a, b in zip(line, line[1:], strict=False))
    # Every going row was created before every waiting one: no seat was given after the line began.
    going = RSVP.objects.filter(event=event, status="going")
    assert max(going.values_list("pk", flat=True)) < line[0].pk

    leaving = going.exclude(member=host).first().member
    services.rsvp_set(event=event, member=leaving, status="not_going")
    assert RSVP.objects.get(pk=line[0].pk).status == "going"
    assert RSVP.objects.filter(event=event, status="going").count() == 20
    assert [r.pk for r in selectors.event_waitlist(event=event)] == [r.pk for r in line[1:]]


def test_fifty_parallel_answers_through_mixed_doors_on_twenty_seats():
    """Half answer on the page, half write a record in another app (the firehose's apply service,
    called with the operation the consumer would hand it, from 25 threads at once: 25 concurrent
    PDS writes through one consumer would be applied one frame at a time anyway). Two of them were
    declined before: their "going" records must not take a seat."""
    if connection.vendor != "postgresql":
        pytest.fail("the services tier runs on PostgreSQL")
    from bluesky.atproto.firehose import RecordOp
    from bluesky.models import BlueskySignIn
    from elonara import atrecords
    from network import firehose

    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="Workshop", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Lab", capacity=20)
    Event.objects.filter(pk=event.pk).update(at_uri=f"at://did:plc:{'h' * 24}/{atrecords.EVENT_NSID}/e1",
                                             at_cid="bafyevent")
    event = Event.objects.get(pk=event.pk)
    members = [Member.objects.create_user(username=f"m{i:02}", password="pw-long-enough-123") for i in range(50)]
    dids = {m.pk: "did:plc:" + "".join("abcdefghij"[int(c)] for c in f"{m.pk:08d}") + "x" * 16 for m in members}
    for m in members[1::2]:
        BlueskySignIn.objects.create(member=m, did=dids[m.pk])
    declined = members[1:4:2]  # two record writers the host declined earlier
    for m in declined:
        RSVP.objects.create(event=event, member=m, status=RSVP.Status.DECLINED)
    barrier = threading.Barrier(len(members))
    errors: list[BaseException] = []

    def answer(n: int, member: Member) -> None:
        try:
            barrier.wait(timeout=60)
            if n % 2 == 0:
                services.rsvp_set(event=Event.objects.get(pk=event.pk), member=member, status="going")
            else:
                record = {"$type": atrecords.RSVP_NSID, "subject": {"uri": event.at_uri, "cid": event.at_cid},
                          "status": f"{atrecords.RSVP_NSID}#going", "createdAt": "2026-12-07T10:00:00.000Z"}
                op = RecordOp(seq=1000 + n, repo=dids[member.pk], action="create", collection=atrecords.RSVP_NSID,
                              rkey=f"3laaaaaaaa{n:03d}", cid=f"bafyanswer{n}", record=record)
                firehose.firehose_ops_apply(source=f"test-{n}", seq=1000 + n, ops=[op])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(n, m)) for n, m in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    rows = RSVP.objects.filter(event=event)
    # The host holds one of the 20 seats (elonara.answers, Door.HOST): 19 of the 50 get the others.
    assert rows.filter(status="going").count() == 20
    assert set(rows.filter(status="declined").values_list("member_id", flat=True)) == {m.pk for m in declined}
    line = list(selectors.event_waitlist(event=event))
    assert len(line) == 50 - 19 - len(declined)
    # In arrival order: every going row was taken before every waiting one, and the line is the
    # order the answers were taken in (under the event's lock, whatever their door).
    going = rows.filter(status="going")
    assert max(going.values_list("updated_at", flat=True)) <= min(r.queued_at for r in line)
    # Rows are created under the lock too, so creation order is arrival order.
    assert [r.pk for r in line] == sorted(r.pk for r in line)
    assert {r.member_id for r in line} | set(going.values_list("member_id", flat=True)) == \
        {m.pk for m in members} - {m.pk for m in declined} | {host.pk}
