"""Commit verification (bluesky.atproto.repo): block hashes, signatures on both curves, the tree's
inclusion and exclusion proofs, replays. Genuine commits come from the official PDS (recorded
frames and their author's DID document) and from tests.network.frames (a real MST, signed)."""

from __future__ import annotations

import json
import secrets

import libipld
import pytest

from bluesky.atproto.firehose import FirehoseFilter
from bluesky.atproto.repo import (
    Blocks,
    CommitVerifier,
    KeyUnavailable,
    OpClaim,
    VerificationError,
    mst_lookup,
    public_key_from_multikey,
    read_car,
    signature_valid,
    signing_key_in,
)
from tests.bluesky.atproto.test_firehose import recorded_frames
from tests.network import frames
from tests.network.frames import RECORDED_DIDS, SigningKey, block, car, did_document, mst

RSVP = "community.lexicon.calendar.rsvp"
EVENT = "community.lexicon.calendar.event"
CALENDAR = (EVENT, RSVP)


def verifier(documents: dict[str, dict] | None = None, **kwargs) -> CommitVerifier:
    documents = documents if documents is not None else json.loads(RECORDED_DIDS.read_text())

    def keys(did: str, fresh: bool) -> str:
        if did not in documents:
            raise KeyUnavailable("unknown")
        return signing_key_in(documents[did], did)

    return CommitVerifier(keys=keys, **kwargs)


def check(v: CommitVerifier, data: bytes):
    """Verify, and accept (as the consumer does once it has applied the commit)."""
    frame = FirehoseFilter(CALENDAR).parse(data, need_seq=True)
    if frame.refused is not None:
        raise frame.refused
    signed = v.verify(repo=frame.repo, rev=frame.rev, commit=frame.commit, blocks=frame.blocks, ops=frame.claims)
    v.accept(frame.repo, signed.rev)
    return signed


def random_did() -> str:
    return "did:plc:" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(24))


def test_genuine_frames_from_the_official_pds_verify_create_update_and_delete():
    _post, created, updated, deleted = recorded_frames()
    v = verifier()
    revs = [check(v, data).rev for data in (created, updated, deleted)]
    assert revs == sorted(revs)
    # The PLC directory's legacy document form (curve in the type, bare point) gives the same key.
    document = next(iter(json.loads(RECORDED_DIDS.read_text()).values()))
    assert document["verificationMethod"][0]["type"] == "EcdsaSecp256k1VerificationKey2019"
    assert signing_key_in(document, document["id"]).startswith("zQ3s")  # a secp256k1 Multikey


@pytest.mark.parametrize("curve", ["k256", "p256"])
def test_signatures_on_both_curves_and_high_s_refused(curve):
    key = SigningKey(curve)
    parsed = public_key_from_multikey(key.multibase)
    message = b"the unsigned commit"
    assert signature_valid(parsed, key.sign(message), message)
    assert not signature_valid(parsed, key.sign(message, low_s=False), message)  # the malleable twin
    assert not signature_valid(parsed, key.sign(message), message + b"!")
    assert not signature_valid(parsed, bytes(64), message)
    assert not signature_valid(public_key_from_multikey(SigningKey(curve).multibase), key.sign(message), message)


@pytest.mark.parametrize("curve", ["k256", "p256"])
def test_commits_signed_by_the_author_verify_and_others_are_refused(curve):
    did, key = random_did(), SigningKey(curve)
    data, _seq, _cids = frames.commit(repo=did, key=key, ops=[("create", f"{RSVP}/3kaaaaaaaaaa2", {"a": 1})])
    assert check(verifier({did: did_document(did, key)}), data).did == did
    with pytest.raises(VerificationError) as refused:
        check(verifier({did: did_document(did, SigningKey(curve))}), data)
    assert refused.value.reason == "signature"
    with pytest.raises(VerificationError) as refused:
        check(verifier({}), data)
    assert refused.value.reason == "no_key"


def test_a_changed_byte_in_any_block_is_refused():
    _post, created, _updated, _deleted = recorded_frames()
    frame = FirehoseFilter(CALENDAR).parse(created)
    header, body = libipld.decode_dag_cbor_multi(created)
    car_bytes = bytearray(body["blocks"])
    car_bytes[car_bytes.index(b"#going") + 1] ^= 0x01  # the record's status, one bit
    body["blocks"] = bytes(car_bytes)
    tampered = FirehoseFilter(CALENDAR).parse(libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body))
    assert frame.refused is None and tampered.refused is not None and tampered.refused.reason == "block_hash"
    assert tampered.ops == []  # nothing of it is read


def _tree(keys: list[bytes]) -> tuple[Blocks, bytes, dict[bytes, bytes]]:
    values = {key: block({"n": n})[0] for n, key in enumerate(keys)}
    nodes: list[tuple[bytes, bytes]] = []
    root = mst(values, nodes)
    return read_car(car(nodes)), root, values


def test_the_tree_proves_presence_and_absence_through_several_levels():
    keys = [f"{RSVP}/3k{n:011d}".encode() for n in range(300)]
    blocks, root, values = _tree(keys)
    assert len(blocks.raw) > 10  # several levels: subtrees are walked
    for key in keys[::7]:
        assert mst_lookup(blocks, root, key) == values[key]
    for absent in (f"{RSVP}/3k{n:011d}x".encode() for n in range(0, 300, 11)):
        assert mst_lookup(blocks, root, absent) is None
    assert mst_lookup(blocks, root, b"a") is None and mst_lookup(blocks, root, b"z") is None


def test_a_proof_missing_a_node_is_a_failure_not_an_absence():
    keys = [f"{EVENT}/3k{n:011d}".encode() for n in range(300)]
    blocks, root, _values = _tree(keys)
    root_node = blocks.get(root)
    child = root_node["l"] or root_node["e"][0]["t"]
    partial = Blocks({cid: data for cid, data in blocks.raw.items() if cid != child}, [])
    found = 0
    for key in keys:
        try:
            mst_lookup(partial, root, key)
        except VerificationError as exc:
            assert exc.reason == "proof"
            found += 1
    assert found > 0


def test_operations_the_signed_tree_does_not_prove_are_refused():
    did = random_did()
    documents = {did: did_document(did)}
    path = f"{RSVP}/3kbbbbbbbbbb2"
    data, _seq, _cids = frames.commit(repo=did, ops=[("create", path, {"status": "going"})])
    frame = FirehoseFilter(CALENDAR).parse(data)
    v = verifier(documents)
    other = block({"status": "notgoing"})[0]
    cases = [
        [OpClaim(path=path, action="create", cid=other)],  # another record than the tree holds
        [OpClaim(path=f"{RSVP}/3kcccccccccc2", action="create", cid=frame.claims[0].cid)],  # not in the tree
        [OpClaim(path=path, action="delete", cid=None)],  # "deleted", yet still in the tree
    ]
    for claims in cases:
        with pytest.raises(VerificationError) as refused:
            v.verify(repo=did, rev=frame.rev, commit=frame.commit, blocks=frame.blocks, ops=claims)
        assert refused.value.reason == "proof"
    with pytest.raises(VerificationError) as refused:
        v.verify(repo=random_did(), rev=frame.rev, commit=frame.commit, blocks=frame.blocks, ops=frame.claims)
    assert refused.value.reason == "wrong_repo"
    v.verify(repo=did, rev=frame.rev, commit=frame.commit, blocks=frame.blocks, ops=frame.claims)


def test_replays_are_refused_and_a_sync_moves_the_repository_on():
    did = random_did()
    v = verifier({did: did_document(did)})
    first, _seq, _ = frames.commit(repo=did, ops=[("create", f"{EVENT}/3kdddddddddd2", {"n": 1})])
    second, _seq, _ = frames.commit(repo=did, ops=[("update", f"{EVENT}/3kdddddddddd2", {"n": 2})])
    check(v, first)
    check(v, second)
    for old in (first, second):
        with pytest.raises(VerificationError) as refused:
            check(v, old)
        assert refused.value.reason == "replay"
    # A #sync: the signed commit of the repository's new state.
    nodes: list[tuple[bytes, bytes]] = []
    from bluesky.records import tid_now

    rev = tid_now()
    signed = frames.signed_commit(repo=did, data=mst({}, nodes), rev=rev)
    slice_ = read_car(car([signed, *nodes]))
    v.sync_accept(did=did, rev=rev, blocks=slice_)
    with pytest.raises(VerificationError):
        v.sync_accept(did=random_did(), rev=rev, blocks=slice_)


def test_the_last_rev_outlives_the_verifier_through_its_store():
    did = random_did()
    stored: dict[str, str] = {}

    class Store:
        def get(self, d: str) -> str | None:
            return stored.get(d)

        def put(self, d: str, rev: str) -> None:
            stored[d] = rev

    old, _seq, _ = frames.commit(repo=did, ops=[("create", f"{RSVP}/3kiiiiiiiiii2", {"status": "going"})])
    new, _seq, _ = frames.commit(repo=did, ops=[("update", f"{RSVP}/3kiiiiiiiiii2", {"status": "notgoing"})])
    check(verifier({did: did_document(did)}, revs=Store()), old)
    check(verifier({did: did_document(did)}, revs=Store()), new)
    restarted = verifier({did: did_document(did)}, revs=Store())  # a new process, the same store
    with pytest.raises(VerificationError) as refused:
        check(restarted, old)
    assert refused.value.reason == "replay"
    # Verified but never accepted (not applied): the same commit may come again.
    unapplied, _seq, _ = frames.commit(repo=did, ops=[("delete", f"{RSVP}/3kiiiiiiiiii2", None)])
    frame = FirehoseFilter(CALENDAR).parse(unapplied)
    for _ in range(2):
        restarted.verify(repo=did, rev=frame.rev, commit=frame.commit, blocks=frame.blocks, ops=frame.claims)


def test_a_rotated_key_is_fetched_again_once():
    did = random_did()
    old, new = SigningKey(), SigningKey()
    documents = {did: did_document(did, old)}
    asked: list[bool] = []
    cached: dict[str, dict] = {}

    def keys(d: str, fresh: bool) -> str:  # a resolver's cache in front of the directory
        asked.append(fresh)
        if fresh or d not in cached:
            cached[d] = documents[d]
        return signing_key_in(cached[d], d)

    v = CommitVerifier(keys=keys)
    check(v, frames.commit(repo=did, key=old, ops=[("create", f"{EVENT}/3keeeeeeeeee2", {"n": 1})])[0])
    documents[did] = did_document(did, new)  # rotated: our cached answer is now stale
    check(v, frames.commit(repo=did, key=new, ops=[("create", f"{EVENT}/3kfffffffffe2", {"n": 2})])[0])
    assert asked == [False, False, True]
    # A forgery right after: one more refresh is not granted within the interval.
    with pytest.raises(VerificationError):
        check(v, frames.commit(repo=did, key=old, ops=[("create", f"{EVENT}/3kgggggggggg2", {"n": 3})])[0])
    assert asked == [False, False, True, False]
    # An #identity event: the next check asks the directory again.
    v.identity_changed(did)
    check(v, frames.commit(repo=did, key=new, ops=[("create", f"{EVENT}/3khhhhhhhhhh2", {"n": 4})])[0])
    assert asked[-1] is True


def test_blocks_that_hash_right_but_are_not_dag_cbor_are_refused_not_a_crash():
    import hashlib

    garbage = b"\xff\x00\xfe"
    cid = b"\x01\x71\x12\x20" + hashlib.sha256(garbage).digest()
    blocks = read_car(car([(cid, garbage)]))
    v = verifier({})
    with pytest.raises(VerificationError) as refused:
        v.verify(repo=random_did(), rev="3k", commit=cid, blocks=blocks, ops=[])
    assert refused.value.reason == "bad_commit"
    with pytest.raises(VerificationError):
        v.verify(repo=random_did(), rev="3k", commit=b"", blocks=blocks, ops=[])
    with pytest.raises(VerificationError):
        mst_lookup(blocks, cid, b"x")
    with pytest.raises(VerificationError):
        v.sync_accept(did=random_did(), rev="3k", blocks=blocks)


def test_revs_dated_ahead_of_our_clock_or_not_tids_are_refused():
    import time

    from bluesky.atproto.repo import rev_seconds
    from bluesky.records import tid_now

    assert abs(rev_seconds(tid_now()) - time.time()) < 5
    assert rev_seconds("not-a-tid") is None and rev_seconds("zzzzzzzzzzzzz") is None
    did = random_did()
    data, _seq, _ = frames.commit(repo=did, ops=[("create", f"{EVENT}/3kjjjjjjjjjj2", {"n": 1})])
    hour_ago = verifier({did: did_document(did)}, wall_clock=lambda: time.time() - 3600)
    with pytest.raises(VerificationError) as refused:
        check(hour_ago, data)
    assert refused.value.reason == "future_rev"
    check(verifier({did: did_document(did)}), data)
