"""Reading com.atproto.sync.subscribeRepos frames: keep only the operations on chosen collections.

A frame is two DAG-CBOR objects back to back: a header (`op` 1 = message with type `t`, -1 =
error) and a body. A `#commit` body lists its operations (`action`, `path` = collection/rkey,
`cid`) and carries the changed blocks as a CAR file. Frames are decoded by libipld; the records
kept are read from the CAR's raw blocks by `datamodel` into their JSON form (`{"$link": ...}`,
`{"$bytes": ...}`), the same shape a record fetched over XRPC has, so links and byte strings stay
apart (libipld makes both `bytes`). This module only decides what to decode:

1. `might_match`: a byte search for the collection names in the raw frame. A commit that touches
   one of them must contain its path as text, so a commit without any needle is skipped with no
   decoding at all (the vast majority on the real network). Other frame types are always decoded.
2. `parse`: the header and body are decoded, operations are filtered on their path, and only if
   one is kept is the CAR of blocks read, each block checked against its CID (bluesky.atproto.repo),
   to read its record. The frame then carries what `CommitVerifier` needs to prove the operations
   (the signed commit, the tree nodes): the caller verifies before using any of them.

Django-free. Errors while decoding raise `FrameError` (the caller logs and skips the frame).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import libipld

from bluesky.atproto.datamodel import decode_dag_cbor
from bluesky.atproto.repo import Blocks, OpClaim, VerificationError, read_car

INFO_OUTDATED_CURSOR = "OutdatedCursor"
_COMMIT_TYPE = b"#commit"
_HEADER_PEEK = 24


class FrameError(Exception):
    """A frame that cannot be decoded or does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class RecordOp:
    """One kept operation. `record` is the decoded record in JSON form (links `{"$link": "b..."}`,
    byte strings `{"$bytes": "..."}`; None for a delete, or when the block is missing from the
    commit)."""

    seq: int
    repo: str
    action: str  # "create", "update" or "delete"
    collection: str
    rkey: str
    cid: str | None
    record: dict[str, Any] | None

    @property
    def uri(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"


@dataclass(slots=True)
class Frame:
    kind: str  # "#commit", "#info", "#identity", "#account", "#sync", "error", ...
    seq: int | None = None
    ops: list[RecordOp] = field(default_factory=list)
    # "#info" and error frames: the server's name and message (e.g. OutdatedCursor, FutureCursor).
    name: str = ""
    message: str = ""
    # What the frame claims, for the verifier (#commit with kept ops; #sync; #identity: `repo`).
    repo: str = ""
    rev: str = ""
    commit: bytes | None = None
    blocks: Blocks | None = None
    claims: list[OpClaim] = field(default_factory=list)
    # A CAR slice whose blocks do not match their CIDs: refused, never read.
    refused: VerificationError | None = None


@dataclass(slots=True)
class FilterStats:
    """Where the time goes (seconds, monotonic clock) and how many frames took each path."""

    frames: int = 0
    skipped_by_bytes: int = 0
    decoded: int = 0
    kept_ops: int = 0
    car_decoded: int = 0
    errors: int = 0
    filter_seconds: float = 0.0
    decode_seconds: float = 0.0
    car_seconds: float = 0.0


def _cid_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return libipld.encode_cid(bytes(value))
    if isinstance(value, str):
        return value
    raise FrameError("operation cid is not a CID")


class FirehoseFilter:
    """Frames in, kept operations out. Keeps counters in `stats` (cheap: two clock reads a frame)."""

    def __init__(self, collections: Iterable[str]) -> None:
        names = tuple(collections)
        self.prefixes = tuple(f"{name}/" for name in names)
        # One search when the collections share a namespace (community.lexicon.calendar.*).
        common = os.path.commonprefix(list(names)) if len(names) > 1 else (names[0] if names else "")
        self.needles = (common.encode(),) if len(common) >= 8 else tuple(name.encode() for name in names)
        self.stats = FilterStats()

    def might_match(self, data: bytes) -> bool:
        # Only commits are skipped unread: #info (OutdatedCursor), error frames and the small
        # #identity/#account/#sync frames are always decoded. The header comes first and is tiny
        # ({"t": "#commit", "op": 1}), so its type is found in the first bytes.
        if _COMMIT_TYPE not in data[:_HEADER_PEEK]:
            return True
        return any(needle in data for needle in self.needles)

    def parse(self, data: bytes, *, need_seq: bool = False) -> Frame | None:
        """The frame's kept content, or None when it was skipped without decoding (then its seq is
        unknown; pass `need_seq=True` to decode it anyway, e.g. to checkpoint the cursor)."""
        stats = self.stats
        stats.frames += 1
        started = time.perf_counter()
        candidate = self.might_match(data)
        filtered = time.perf_counter()
        stats.filter_seconds += filtered - started
        if not candidate and not need_seq:
            stats.skipped_by_bytes += 1
            return None
        try:
            return self._decode(data, candidate=candidate)
        except FrameError:
            stats.errors += 1
            raise
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            # libipld's errors on bad input; RecursionError: nesting deeper than its decoder allows
            # (a hostile relay's frame), which must cost one skipped frame, not the consumer.
            stats.errors += 1
            raise FrameError(f"undecodable frame ({type(exc).__name__})") from exc
        finally:
            stats.decode_seconds += time.perf_counter() - filtered

    def _decode(self, data: bytes, *, candidate: bool) -> Frame:
        self.stats.decoded += 1
        parts = libipld.decode_dag_cbor_multi(data)
        if len(parts) != 2 or not isinstance(parts[0], dict) or not isinstance(parts[1], dict):
            raise FrameError("a frame is a header and a body")
        header, body = parts
        if header.get("op") == -1:
            return Frame(kind="error", name=str(body.get("error", ""))[:100],
                         message=str(body.get("message", ""))[:300])
        kind = header.get("t")
        if header.get("op") != 1 or not isinstance(kind, str):
            raise FrameError("unknown frame header")
        seq = body.get("seq")
        frame = Frame(kind=kind, seq=seq if type(seq) is int else None)
        if kind == "#info":
            frame.name = str(body.get("name", ""))[:100]
            frame.message = str(body.get("message", ""))[:300]
            return frame
        if kind in ("#identity", "#sync"):
            return self._repo_event(frame, body)
        if kind != "#commit" or not candidate:
            return frame
        return self._commit(frame, body)

    def _commit(self, frame: Frame, body: dict[str, Any]) -> Frame:
        """A commit that may touch a kept collection: its kept ops, with their records read from
        its CAR blocks (checked against their CIDs), or the CAR's refusal."""
        ops = body.get("ops")
        repo, seq = body.get("repo"), frame.seq
        if not isinstance(ops, list) or not isinstance(repo, str) or seq is None:
            raise FrameError("commit without ops, repo or seq")
        kept = [op for op in ops if isinstance(op, dict) and isinstance(op.get("path"), str)
                and op["path"].startswith(self.prefixes)]
        if not kept:
            return frame
        self.stats.kept_ops += len(kept)
        # Deletes need the blocks too: the signed tree must prove the record gone.
        car_started = time.perf_counter()
        car, rev, commit = body.get("blocks"), body.get("rev"), body.get("commit")
        if not isinstance(car, bytes | bytearray) or not isinstance(rev, str) or not isinstance(commit, bytes):
            raise FrameError("commit without blocks, rev or commit")
        frame.repo, frame.rev, frame.commit = repo, rev, commit
        try:
            blocks = frame.blocks = read_car(bytes(car))
        except VerificationError as exc:
            frame.refused = exc
            return frame
        finally:
            self.stats.car_decoded += 1
            self.stats.car_seconds += time.perf_counter() - car_started
        for op in kept:
            _kept_op_add(frame, op, blocks=blocks, repo=repo, seq=seq)
        return frame

    @staticmethod
    def _repo_event(frame: Frame, body: dict[str, Any]) -> Frame:
        did = body.get("did")
        frame.repo = did if isinstance(did, str) else ""
        if frame.kind == "#sync":
            rev, car = body.get("rev"), body.get("blocks")
            frame.rev = rev if isinstance(rev, str) else ""
            if isinstance(car, bytes | bytearray):
                try:
                    frame.blocks = read_car(bytes(car))
                except VerificationError as exc:
                    frame.refused = exc
        return frame


def subscribe_url(base_url: str, *, cursor: int | None) -> str:
    """The websocket URL of subscribeRepos on a relay or PDS (http(s) bases become ws(s))."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    url = f"{base}/xrpc/com.atproto.sync.subscribeRepos"
    return f"{url}?cursor={cursor}" if cursor is not None else url


def _kept_op_add(frame: Frame, op: dict[str, Any], *, blocks: Blocks, repo: str, seq: int) -> None:
    """One kept op of a commit onto its frame: the claim the signed tree must prove, and the
    operation with its record (in JSON form) when it writes one."""
    collection, _, rkey = op["path"].partition("/")
    action = op.get("action")
    if action not in ("create", "update", "delete") or not rkey:
        raise FrameError("unknown operation")
    raw_cid = op.get("cid")
    record = None
    cid = bytes(raw_cid) if isinstance(raw_cid, bytes | bytearray) else None
    if action != "delete" and cid is not None:
        # The record in its JSON form (links and byte strings kept apart), from a block
        # read_car has checked against its CID.
        block = blocks.raw.get(cid)
        value = decode_dag_cbor(block) if block is not None else None
        record = value if isinstance(value, dict) else None
    frame.claims.append(OpClaim(path=op["path"], action=action, cid=cid if action != "delete" else None))
    frame.ops.append(RecordOp(seq=seq, repo=repo, action=action, collection=collection, rkey=rkey,
                              cid=_cid_text(raw_cid), record=record))
