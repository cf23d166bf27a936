"""The firehose consumer's handling of frames (real frames recorded from the official PDS), its
cursor, and its reconnection, against a small local websocket server standing in for a relay
(what a relay does on demand: old cursors, bad frames, dropped connections)."""

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import libipld
import pytest
from django.db.models import F
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from elonara import services
from elonara.models import RSVP, Event, ExternalRSVP
from network.firehose import FirehoseConsumer
from network.models import FirehoseCursor
from tests.bluesky.atproto.test_firehose import recorded_frames
from tests.network.frames import directory  # noqa: F401 - the fixture

SOURCE = "http://127.0.0.1:9"


def frame(header: dict, body: dict) -> bytes:
    return libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body)


@pytest.fixture(autouse=True)
def no_outside_lookups(settings, directory):  # noqa: F811
    # DID documents (the frames' signing keys) come from a directory on loopback; handle lookups go
    # to a closed loopback port: they fail at once and the handle stays empty.
    settings.ATPROTO_HANDLE_RESOLVER_URL = "http://127.0.0.1:9"


@pytest.fixture
def our_event(django_user_model):
    """The event the recorded RSVP answers, as if we had published it."""
    _post, created, _updated, _deleted = recorded_frames()
    from bluesky.atproto.firehose import FirehoseFilter

    subject = FirehoseFilter(["community.lexicon.calendar.rsvp"]).parse(created).ops[0].record["subject"]
    host = django_user_model.objects.create_user(username="host", password="pw-123456")
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(host=host, title="Picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Park")
    Event.objects.filter(pk=event.pk).update(at_uri=subject["uri"], at_cid=subject["cid"])
    return Event.objects.get(pk=event.pk)


@pytest.mark.django_db
def test_outside_rsvp_created_updated_deleted_and_replays_change_nothing(our_event):
    post, created, updated, deleted = recorded_frames()
    consumer = FirehoseConsumer(source=SOURCE)
    assert consumer.handle(post) and consumer.handle(created)
    row = ExternalRSVP.objects.get()
    assert row.event == our_event and row.status == ExternalRSVP.Status.GOING and row.handle == ""
    assert row.did.startswith("did:plc:") and row.uri.startswith(f"at://{row.did}/community.lexicon.calendar.rsvp/")

    consumer.handle(updated)
    assert ExternalRSVP.objects.get().status == ExternalRSVP.Status.NOT_GOING
    cursor = FirehoseCursor.objects.get(source=SOURCE)
    assert cursor.seq == ExternalRSVP.objects.get().seq

    # A restart from an older cursor replays the create: the newer answer stays.
    FirehoseConsumer(source=SOURCE).handle(created)
    assert ExternalRSVP.objects.get().status == ExternalRSVP.Status.NOT_GOING
    # Only the host's own seat: an outside answer is no member's answer and counts no one.
    assert list(RSVP.objects.values_list("member_id", flat=True)) == [our_event.host_id]
    assert Event.objects.get(pk=our_event.pk).going_count == 1

    consumer.handle(deleted)
    assert not ExternalRSVP.objects.exists()


@pytest.mark.django_db
def test_our_own_rsvp_echoing_back_changes_nothing(our_event, django_user_model):
    _post, created, _updated, _deleted = recorded_frames()
    from bluesky.atproto.firehose import FirehoseFilter

    op = FirehoseFilter(["community.lexicon.calendar.rsvp"]).parse(created).ops[0]
    member = django_user_model.objects.create_user(username="bob", password="pw-123456")
    rsvp = RSVP.objects.create(event=our_event, member=member, status=RSVP.Status.GOING, at_uri=op.uri, at_cid=op.cid)
    FirehoseConsumer(source=SOURCE).handle(created)
    assert not ExternalRSVP.objects.exists()
    rsvp.refresh_from_db()
    assert rsvp.status == RSVP.Status.GOING and rsvp.at_cid == op.cid


@pytest.mark.django_db
def test_rsvps_to_events_that_are_not_ours_are_ignored():
    _post, created, _updated, _deleted = recorded_frames()
    FirehoseConsumer(source=SOURCE).handle(created)
    assert not ExternalRSVP.objects.exists()


@pytest.mark.django_db
def test_bad_frames_are_skipped_and_info_and_errors_reported(caplog):
    consumer = FirehoseConsumer(source=SOURCE)
    assert consumer.handle(b"\xff\xfe community.lexicon.calendar.rsvp") is True
    assert "cannot decode" in caplog.text

    consumer.handle(frame({"op": 1, "t": "#info"}, {"name": "OutdatedCursor", "message": "cursor is too old"}))
    cursor = FirehoseCursor.objects.get(source=SOURCE)
    assert cursor.outdated_at is not None and "OutdatedCursor" in cursor.last_error
    assert "frames were missed" in caplog.text

    FirehoseCursor.objects.filter(source=SOURCE).update(seq=99)
    assert consumer.handle(frame({"op": -1}, {"error": "FutureCursor", "message": "ahead"})) is False
    assert FirehoseCursor.objects.get(source=SOURCE).seq == 0


class FakeRelay:
    """A websocket server on loopback answering subscribeRepos with scripted frames per connection."""

    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.cursors: list[str | None] = []
        self.server = serve(self.handler, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.done = threading.Event()

    def handler(self, ws):
        query = parse_qs(urlsplit(ws.request.path).query)
        self.cursors.append(query.get("cursor", [None])[0])
        if not self.scripts:
            self.done.set()
            try:
                ws.recv()  # hold the connection until the consumer stops
            except ConnectionClosed:
                pass
            return
        for data in self.scripts.pop(0):
            ws.send(data)
        # returning closes the connection: the consumer must reconnect from its cursor

    def close(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.mark.django_db(transaction=True)
def test_consumer_reconnects_from_its_cursor_and_survives_bad_frames(our_event, monkeypatch):
    monkeypatch.setattr("network.firehose.BACKOFF_FIRST_SECONDS", 0.05)
    _post, created, updated, _deleted = recorded_frames()
    like = {"action": "create", "path": "app.bsky.feed.like/3k", "cid": None}
    other = frame({"op": 1, "t": "#commit"}, {"seq": 1, "repo": "did:plc:x", "blocks": b"", "ops": [like]})
    relay = FakeRelay([
        [other, b"garbage community.lexicon.calendar", created],
        [frame({"op": 1, "t": "#info"}, {"name": "OutdatedCursor", "message": "old"}), updated],
    ])
    stop = threading.Event()
    consumer = FirehoseConsumer(source=relay.url, stop=stop)
    runner = threading.Thread(target=lambda: (relay.done.wait(20), stop.set()), daemon=True)
    runner.start()
    try:
        consumer.run()  # returns once the relay has served its scripts and `stop` is set
    finally:
        relay.close()
    from bluesky.atproto.firehose import FirehoseFilter

    created_seq = FirehoseFilter(["x"]).parse(created, need_seq=True).seq
    assert relay.cursors[0] is None
    assert relay.cursors[1] == str(created_seq)  # resumed after the last applied frame
    assert ExternalRSVP.objects.get().status == ExternalRSVP.Status.NOT_GOING
    cursor = FirehoseCursor.objects.get(source=relay.url)
    assert cursor.outdated_at is not None and relay.cursors[2] == str(cursor.seq)


def _deep(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"  # [[[[...0...]]]] in CBOR


@pytest.mark.django_db
def test_a_deeply_nested_frame_is_skipped_and_counted(our_event):
    # Issue 24: a hostile relay's nesting crashed the consumer (RecursionError out of the decoder).
    from core.metrics import FIREHOSE_FRAMES_SKIPPED

    skipped = FIREHOSE_FRAMES_SKIPPED.labels(reason="undecodable")
    before = skipped._value.get()
    consumer = FirehoseConsumer(source=SOURCE)
    header = libipld.encode_dag_cbor({"op": 1, "t": "#commit"})
    assert consumer.handle(header + _deep(200_000)) is True
    # Deep inside a commit that names our collections (so it is decoded, blocks and all).
    body_prefix = libipld.encode_dag_cbor({"seq": 7, "repo": "did:plc:x", "ops": [
        {"action": "create", "path": "community.lexicon.calendar.rsvp/3k", "cid": None}]})
    assert consumer.handle(header + body_prefix[:-1] + _deep(200_000)) is True
    assert skipped._value.get() - before >= 1
    _post, created, _updated, _deleted = recorded_frames()
    assert consumer.handle(created) is True and ExternalRSVP.objects.count() == 1  # and it goes on


@pytest.mark.django_db(transaction=True)
def test_a_frame_above_the_size_limit_is_skipped_not_received_forever(our_event, monkeypatch):
    monkeypatch.setattr("network.firehose.BACKOFF_FIRST_SECONDS", 0.05)
    monkeypatch.setattr("network.firehose.MAX_FRAME_BYTES", 4096)
    like = {"action": "create", "path": "app.bsky.feed.like/3k", "cid": None}
    small = frame({"op": 1, "t": "#commit"}, {"seq": 41, "repo": "did:plc:x", "blocks": b"", "ops": [like]})
    huge = frame({"op": 1, "t": "#commit"}, {"seq": 42, "repo": "did:plc:x", "blocks": b"x" * 10_000, "ops": [like]})
    relay = FakeRelay([[small, huge]])
    stop = threading.Event()
    consumer = FirehoseConsumer(source=relay.url, stop=stop)
    threading.Thread(target=lambda: (relay.done.wait(20), stop.set()), daemon=True).start()
    try:
        consumer.run()
    finally:
        relay.close()
    assert relay.cursors[:2] == [None, "42"]  # resumed after the frame that was too large


def _rsvp_op(event, did: str, rkey: str, seq: int, status: str = "going"):
    from bluesky.atproto.firehose import RecordOp

    record = {"$type": "community.lexicon.calendar.rsvp", "status": f"community.lexicon.calendar.rsvp#{status}",
              "subject": {"uri": event.at_uri, "cid": event.at_cid},
              "createdAt": timezone.now().isoformat().replace("+00:00", "Z")}
    return RecordOp(seq=seq, repo=did, action="create", collection="community.lexicon.calendar.rsvp", rkey=rkey,
                    cid="bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", record=record)


@pytest.mark.django_db
def test_one_account_writing_many_records_is_one_outside_answer_the_newest(our_event, client):
    # Issue 24: 150 records to one event were 150 rows and 150 names on the page.
    from network.firehose import firehose_ops_apply

    did = "did:plc:" + "m" * 24
    for n in range(150):
        status = "notgoing" if n == 149 else "going"
        firehose_ops_apply(source=SOURCE, seq=1000 + n, ops=[_rsvp_op(our_event, did, f"3kspam{n:07d}", 1000 + n,
                                                                      status)])
    row = ExternalRSVP.objects.get()
    assert row.did == did and row.status == ExternalRSVP.Status.NOT_GOING and row.seq == 1149
    # An older record replayed later does not win.
    firehose_ops_apply(source=SOURCE, seq=1200, ops=[_rsvp_op(our_event, did, "3kspam0000003", 999)])
    assert ExternalRSVP.objects.get().status == ExternalRSVP.Status.NOT_GOING
    page = client.get(f"/events/{our_event.pk}/").content.decode()
    assert page.count(f"https://bsky.app/profile/{did}") == 1


@pytest.mark.django_db
def test_outside_answers_per_event_are_capped_and_the_page_says_so(our_event, client, settings):
    from core.metrics import OUTSIDE_RSVPS_REFUSED
    from network.firehose import firehose_ops_apply

    settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT = 3
    before = OUTSIDE_RSVPS_REFUSED._value.get()
    for n in range(5):
        firehose_ops_apply(source=SOURCE, seq=2000 + n,
                           ops=[_rsvp_op(our_event, f"did:plc:{'c' * 23}{'abcde'[n]}", f"3kcap{n:08d}", 2000 + n)])
    assert ExternalRSVP.objects.filter(event=our_event).count() == 3
    assert OUTSIDE_RSVPS_REFUSED._value.get() - before == 2
    page = client.get(f"/events/{our_event.pk}/").content.decode()
    assert "Going (3)" in page and "Only the first 3 answers from other apps are kept" in page


@pytest.fixture
def counting_plc(directory):  # noqa: F811
    """The loopback directory's lookups (it serves the recorded author's document and, here, knows
    no other DID: 404)."""
    directory.missing.add("did:plc:" + "h" * 24)
    return directory.hits


@pytest.mark.django_db(transaction=True)
def test_handle_lookups_leave_the_consumer_and_failures_are_remembered(our_event, counting_plc, settings):
    # Issue 24: each new outside answer looked its handle up inside the consumer; failures were
    # not remembered (10 records: 10 lookups of up to ~10 s each).
    from elonara.outside_answers import outside_rsvp_handles_resolve
    from network.firehose import firehose_ops_apply

    settings.CELERY_TASK_ALWAYS_EAGER = False
    did = "did:plc:" + "h" * 24
    _post, created, _updated, _deleted = recorded_frames()
    assert FirehoseConsumer(source=SOURCE).handle(created) is True
    author = ExternalRSVP.objects.get().did
    # The consumer read the author's DID document (the commit's signing key), and no handle.
    assert counting_plc == [author] and ExternalRSVP.objects.get().handle_checked_at is None
    counting_plc.clear()
    first = [_rsvp_op(our_event, did, "3khandle00001", 3000)]
    ids = firehose_ops_apply(source=SOURCE, seq=3000, ops=first)
    outside_rsvp_handles_resolve(ids=ids)  # what the worker runs
    assert counting_plc == [did]
    row = ExternalRSVP.objects.get(did=did)
    assert row.handle == "" and row.handle_checked_at is not None
    start = timezone.now() + timedelta(days=5)
    host = our_event.host
    for n in range(10):
        other = services.event_create(host=host, title=f"E{n}", starts_at=start, ends_at=start + timedelta(hours=1),
                                      venue="Park")
        Event.objects.filter(pk=other.pk).update(at_uri=f"{our_event.at_uri}x{n}", at_cid=our_event.at_cid)
        other.refresh_from_db()
        again = firehose_ops_apply(source=SOURCE, seq=3001 + n,
                                   ops=[_rsvp_op(other, did, f"3khandle{n + 2:05d}", 3001 + n)])
        assert again == []  # the failed lookup is remembered: nothing to look up
    assert len(counting_plc) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["record_byte", "record", "repo", "signature", "replay"])
def test_frames_altered_in_flight_are_refused_counted_and_never_stored(our_event, how, caplog):
    # Issue 40: the consumer believed every frame the relay sent.
    from core.metrics import FIREHOSE_FRAMES_REFUSED
    from tests.network.frames import tamper

    reason = {"record_byte": "block_hash", "record": "proof", "repo": "wrong_repo", "signature": "signature",
              "replay": "replay"}[how]
    _post, created, updated, _deleted = recorded_frames()
    consumer = FirehoseConsumer(source=SOURCE)
    if how == "replay":
        assert consumer.handle(created) and consumer.handle(updated)
        before = list(ExternalRSVP.objects.values_list("status", "seq", "cid"))
        altered = tamper(created, how, seq=10**9)  # the old "going" commit, later in the stream
    else:
        altered = tamper(created, how, did="did:plc:" + "x" * 24)
        before = []
    counted = FIREHOSE_FRAMES_REFUSED.labels(reason=reason)
    was = counted._value.get()
    for _ in range(3):
        assert consumer.handle(altered) is True
    assert list(ExternalRSVP.objects.values_list("status", "seq", "cid")) == before
    assert not RSVP.objects.exclude(member_id=F("event__host_id")).exists()  # hosts' own seats only
    assert counted._value.get() - was == 3
    logged = [r.reason for r in caplog.records if r.getMessage().startswith("firehose frame refused")]
    assert logged == [reason]  # once per author per interval
    # The cursor moves past it (a restart does not read it again), and genuine frames still apply.
    assert consumer.handle(updated if how != "replay" else _deleted) is True
    assert FirehoseCursor.objects.get(source=SOURCE).seq >= _seq_of(updated)


def _seq_of(data: bytes) -> int:
    from bluesky.atproto.firehose import FirehoseFilter

    return FirehoseFilter(["x"]).parse(data, need_seq=True).seq


@pytest.mark.django_db
def test_identity_and_sync_events_are_handled_and_counted(directory):  # noqa: F811
    from bluesky.records import tid_now
    from core.metrics import FIREHOSE_FRAMES_REFUSED, FIREHOSE_REPO_EVENTS
    from tests.network.frames import SigningKey, car, did_document, mst, signed_commit

    did = "did:plc:" + "s" * 24
    consumer = FirehoseConsumer(source=SOURCE)
    identity = FIREHOSE_REPO_EVENTS.labels(kind="identity")
    sync = FIREHOSE_REPO_EVENTS.labels(kind="sync")
    signature = FIREHOSE_FRAMES_REFUSED.labels(reason="signature")
    counts = (identity._value.get(), sync._value.get(), signature._value.get())
    directory.hits.clear()
    assert consumer.handle(frame({"op": 1, "t": "#identity"}, {"seq": 5001, "did": did, "time": "2026-12-07T00:00Z"}))
    nodes: list = []
    rev = tid_now()
    signed = signed_commit(repo=did, data=mst({}, nodes), rev=rev)
    body = {"seq": 5002, "did": did, "rev": rev, "time": "2026-12-07T00:00:00Z", "blocks": car([signed, *nodes])}
    assert consumer.handle(frame({"op": 1, "t": "#sync"}, body))
    assert directory.hits == [did]  # the sync's signature was checked against the author's document
    # A sync claimed for another repository than the one that signed it: refused and counted.
    other = "did:plc:" + "t" * 24
    directory.documents[other] = did_document(other, SigningKey())
    wrong_repo = FIREHOSE_FRAMES_REFUSED.labels(reason="wrong_repo")
    before = wrong_repo._value.get()
    assert consumer.handle(frame({"op": 1, "t": "#sync"}, {**body, "seq": 5003, "did": other}))
    assert wrong_repo._value.get() - before == 1
    assert identity._value.get() - counts[0] == 1 and sync._value.get() - counts[1] == 2
    assert signature._value.get() == counts[2]
