"""The firehose frame filter, on real frames recorded from the official PDS (data/) and on frames
encoded here with libipld for what a PDS does not send on demand (errors, info, garbage)."""

import struct
from pathlib import Path

import libipld
import pytest

from bluesky.atproto.firehose import FirehoseFilter, FrameError, subscribe_url

CALENDAR = ("community.lexicon.calendar.event", "community.lexicon.calendar.rsvp")
RSVP = CALENDAR[1]


def recorded_frames() -> list[bytes]:
    data = (Path(__file__).parent / "data" / "firehose_frames.bin").read_bytes()
    frames, offset = [], 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        frames.append(data[offset + 4: offset + 4 + size])
        offset += 4 + size
    return frames


def frame(header: dict, body: dict) -> bytes:
    return libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body)


def test_real_frames_keep_only_calendar_operations():
    post, created, updated, deleted = recorded_frames()
    filt = FirehoseFilter(CALENDAR)
    kept = filt.parse(post)
    assert kept is None or kept.ops == []

    one = filt.parse(created)
    assert one.kind == "#commit" and isinstance(one.seq, int)
    (op,) = one.ops
    assert op.action == "create" and op.collection == RSVP and op.repo.startswith("did:plc:")
    assert op.uri == f"at://{op.repo}/{RSVP}/{op.rkey}" and op.cid.startswith("bafyrei")
    assert op.record["status"] == f"{RSVP}#going" and op.record["subject"]["uri"].startswith("at://")

    two = filt.parse(updated)
    assert two.seq > one.seq and two.ops[0].action == "update"
    assert two.ops[0].record["status"] == f"{RSVP}#notgoing" and two.ops[0].cid != op.cid

    three = filt.parse(deleted)
    assert three.ops[0].action == "delete" and three.ops[0].record is None and three.ops[0].cid is None
    # A delete carries no record, but its blocks are read: the signed tree must prove it gone.
    assert three.blocks is not None and three.commit in three.blocks.raw and three.claims[0].cid is None


def test_frames_for_other_collections_are_skipped_before_any_decoding():
    body = {"seq": 7, "repo": "did:plc:abc", "ops": [{"action": "create", "path": "app.bsky.feed.like/3k",
                                                     "cid": None}], "blocks": b"not a car"}
    data = frame({"op": 1, "t": "#commit"}, body)
    filt = FirehoseFilter(CALENDAR)
    assert filt.parse(data) is None
    assert filt.stats.skipped_by_bytes == 1 and filt.stats.decoded == 0
    # Asked for its sequence number (cursor checkpoint): decoded, nothing kept, blocks untouched.
    checked = filt.parse(data, need_seq=True)
    assert checked.seq == 7 and checked.ops == [] and filt.stats.car_decoded == 0


def test_paths_are_matched_exactly_not_by_substring():
    body = {"seq": 8, "repo": "did:plc:abc", "blocks": b"",
            "ops": [{"action": "create", "path": "app.bsky.feed.post/community.lexicon.calendar.rsvp", "cid": None}]}
    assert FirehoseFilter(CALENDAR).parse(frame({"op": 1, "t": "#commit"}, body)).ops == []


def test_info_and_error_frames():
    filt = FirehoseFilter(CALENDAR)
    info = filt.parse(frame({"op": 1, "t": "#info"}, {"name": "OutdatedCursor", "message": "too old"}), need_seq=True)
    assert info.kind == "#info" and info.name == "OutdatedCursor" and info.message == "too old"
    error = filt.parse(frame({"op": -1}, {"error": "FutureCursor", "message": "ahead"}), need_seq=True)
    assert error.kind == "error" and error.name == "FutureCursor"


@pytest.mark.parametrize("data", [
    b"\xff\x00garbage community.lexicon.calendar.rsvp",
    frame({"op": 1, "t": "#commit"}, {"seq": 1})[:-3] + b"community.lexicon.calendar.rsvp",
    frame({"op": 1, "t": "#commit"}, {"seq": 1, "repo": "did:plc:a", "blocks": b"\x01\x02",
                                      "ops": [{"action": "create", "path": f"{RSVP}/3k", "cid": b"\x01q"}]}),
    frame({"op": 1, "t": "#commit"}, {"seq": 1, "ops": "nope", "repo": "did:plc:a"}) + b"community.lexicon.calendar",
    frame({"op": 2}, {"x": 1}) + b"community.lexicon.calendar",
])
def test_undecodable_frames_raise_frame_error(data):
    filt = FirehoseFilter(CALENDAR)
    with pytest.raises(FrameError):
        filt.parse(data, need_seq=True)
    assert filt.stats.errors == 1


def test_subscribe_url():
    assert subscribe_url("https://bsky.network", cursor=None) == "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"
    assert subscribe_url("http://localhost:2583/", cursor=42).endswith("subscribeRepos?cursor=42")
    assert subscribe_url("http://localhost:2583", cursor=42).startswith("ws://localhost:2583/")
