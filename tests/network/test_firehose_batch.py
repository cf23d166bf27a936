"""The consumer's batch: verified frames wait (at most BATCH_FRAMES or BATCH_SECONDS) and are applied
together, in one transaction with the cursor. What must hold: the cursor never passes a frame whose
effects are not committed, a consumer killed with frames waiting resumes and applies them, a kept
event and the answers to it land, a replay inside one batch is refused, and a batch of many kept
commits costs the database fewer queries than the same commits applied one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.metrics import FIREHOSE_FRAMES_REFUSED
from elonara import atrecords
from network.firehose import FirehoseConsumer
from network.models import FirehoseCursor, NetworkAnswer, NetworkEvent
from tests.invitations.conftest import random_did
from tests.network.frames import commit, directory  # noqa: F401 - the fixture

EVENT = atrecords.EVENT_NSID
RSVP = atrecords.RSVP_NSID
SOURCE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def quiet_network(settings, directory):  # noqa: F811
    # Profile reads (queued on commit) go to a closed loopback port; DID documents come from a
    # directory on loopback.
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"
    settings.CELERY_TASK_ALWAYS_EAGER = False


def event_record(name: str = "Board games") -> dict:
    start = timezone.now() + timedelta(days=3)
    return {"$type": EVENT, "name": name, "createdAt": atrecords.at_datetime(timezone.now()),
            "startsAt": atrecords.at_datetime(start), "endsAt": atrecords.at_datetime(start + timedelta(hours=2)),
            "mode": f"{EVENT}#inperson", "status": f"{EVENT}#scheduled"}


def answer_record(uri: str, cid: str, status: str = "going") -> dict:
    return {"$type": RSVP, "subject": {"uri": uri, "cid": cid}, "status": f"{RSVP}#{status}",
            "createdAt": atrecords.at_datetime(timezone.now())}


def stored_cursor() -> int | None:
    row = FirehoseCursor.objects.filter(source=SOURCE).first()
    return row.seq if row else None


def event_and_answers(answers: int = 2, rkey: str = "3lbatchaaaaa2") -> tuple[list[bytes], str, int]:
    """A kept event of another app and `answers` strangers' answers to it: their frames, the event's
    URI and the last frame's seq."""
    maker = random_did()
    created, seq, (cid,) = commit(repo=maker, ops=[("create", f"{EVENT}/{rkey}", event_record())])
    uri = f"at://{maker}/{EVENT}/{rkey}"
    frames = [created]
    for _ in range(answers):
        data, seq, _cids = commit(repo=random_did(), ops=[("create", f"{RSVP}/3lansaaaaaaa2", answer_record(uri, cid))])
        frames.append(data)
    return frames, uri, seq


@pytest.mark.django_db
def test_a_kept_event_and_its_answers_land_together_with_the_cursor_when_the_batch_is_applied():
    frames, uri, last_seq = event_and_answers(answers=2)
    consumer = FirehoseConsumer(source=SOURCE)
    for data in frames:
        assert consumer.receive(data) is True
    # Waiting: nothing of the batch is stored, and neither is a cursor past it.
    assert not NetworkEvent.objects.exists() and stored_cursor() is None

    consumer.flush()
    event = NetworkEvent.objects.get(uri=uri)
    assert event.going_count == 2 and NetworkAnswer.objects.filter(event=event).count() == 2
    assert stored_cursor() == last_seq


@pytest.mark.django_db
def test_a_checkpoint_while_frames_wait_applies_them_first_the_cursor_never_passes_them(monkeypatch):
    # Every frame asks for a checkpoint (as after a quiet stretch): the cursor would be written past
    # the waiting frames unless they are applied in the same transaction.
    monkeypatch.setattr("network.firehose.CHECKPOINT_SECONDS", -1.0)
    frames, uri, _seq = event_and_answers(answers=0)
    post = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": atrecords.at_datetime(timezone.now())}
    other, other_seq, _cids = commit(repo=random_did(), ops=[("create", "app.bsky.feed.post/3lpostaaaaa2", post)])
    consumer = FirehoseConsumer(source=SOURCE)
    consumer.receive(frames[0])
    assert stored_cursor() is None and not NetworkEvent.objects.exists()
    consumer.receive(other)  # nothing kept: only a checkpoint, which applies the waiting event first
    assert stored_cursor() == other_seq and NetworkEvent.objects.filter(uri=uri).exists()


@pytest.mark.django_db
def test_a_consumer_killed_with_frames_waiting_resumes_from_the_last_committed_frame_and_applies_them():
    frames, uri, last_seq = event_and_answers(answers=2)
    first = FirehoseConsumer(source=SOURCE)
    first.handle(frames[0])  # the event is applied (and its rev remembered in the shared cache)
    applied = stored_cursor()
    for data in frames[1:]:
        first.receive(data)
    del first  # killed: the answers waiting in its batch were never committed

    assert stored_cursor() == applied and not NetworkAnswer.objects.exists()
    # The relay replays everything after the stored cursor to the restarted consumer: the answers
    # are new to it (no rev of theirs was remembered before their commit), so they land.
    restarted = FirehoseConsumer(source=SOURCE)
    for data in frames[1:]:
        assert restarted.receive(data) is True
    restarted.flush()
    assert NetworkEvent.objects.get(uri=uri).going_count == 2
    assert stored_cursor() == last_seq


@pytest.mark.django_db
def test_a_commit_replayed_inside_one_batch_is_refused_as_a_replay():
    frames, _uri, _seq = event_and_answers(answers=0)
    replay = FIREHOSE_FRAMES_REFUSED.labels(reason="replay")
    before = replay._value.get()
    consumer = FirehoseConsumer(source=SOURCE)
    consumer.receive(frames[0])
    consumer.receive(frames[0])  # the same signed commit again, before the first was applied
    assert replay._value.get() - before == 1
    consumer.flush()
    assert NetworkEvent.objects.count() == 1


def _queries(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


@pytest.mark.django_db
def test_a_batch_of_kept_commits_costs_fewer_queries_than_each_alone():
    # Each answer alone: its own queries, plus its cursor write and its transaction (here, inside
    # the test's transaction, a savepoint and its release; BEGIN and COMMIT in production). In a
    # batch the last three are paid once.
    consumer = FirehoseConsumer(source=SOURCE)
    alone, alone_uri, _seq = event_and_answers(answers=5, rkey="3lalone1aaaa2")
    batched, batched_uri, _seq = event_and_answers(answers=5, rkey="3lbatch1aaaa2")
    consumer.handle(alone[0])
    consumer.handle(batched[0])

    one_by_one = _queries(lambda: [consumer.handle(data) for data in alone[1:]])

    def in_a_batch() -> None:
        for data in batched[1:]:
            consumer.receive(data)
        consumer.flush()

    together = _queries(in_a_batch)
    assert NetworkEvent.objects.get(uri=alone_uri).going_count == 5
    assert NetworkEvent.objects.get(uri=batched_uri).going_count == 5
    assert together <= one_by_one - 3 * 4, (one_by_one, together)


@pytest.mark.django_db
def test_a_frame_that_cannot_be_stored_costs_only_itself_not_the_rest_of_its_batch(caplog):
    # A real fault an author can cause: a valid record key long enough that the answer's address
    # exceeds its column (PostgreSQL refuses the row; SQLite does not check lengths).
    if connection.vendor != "postgresql":
        pytest.skip("needs a database that enforces a column's length")
    frames, uri, _seq = event_and_answers(answers=1)
    consumer = FirehoseConsumer(source=SOURCE)
    consumer.handle(frames[0])
    cid = NetworkEvent.objects.get(uri=uri).cid
    too_long, _bad_seq, _ = commit(repo=random_did(), ops=[("create", f"{RSVP}/{'k' * 450}", answer_record(uri, cid))])
    after, last_seq, _ = commit(repo=random_did(), ops=[("create", f"{RSVP}/3lafteraaaa2", answer_record(uri, cid))])
    for data in (frames[1], too_long, after):
        consumer.receive(data)
    consumer.flush()
    assert NetworkEvent.objects.get(uri=uri).going_count == 2  # the answers before and after it
    assert "firehose frame not applied" in caplog.text
    assert stored_cursor() == last_seq
