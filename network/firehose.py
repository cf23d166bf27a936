"""The network's firehose: the consumer, its cursor, and the router that hands each operation to its owner.

`FirehoseConsumer.run()` (started by `manage.py consume_firehose`) reads
com.atproto.sync.subscribeRepos from `BLUESKY_FIREHOSE_URL`, keeps only operations on
community.lexicon.calendar.rsvp / .event (see bluesky.atproto.firehose) and hands them to
`firehose_ops_apply`. Its router decides whose record each one is: our events and the answers to
them go to elonara (elonara.outside_answers), other apps' events and the answers to those to
network.services. Verified frames wait in a short batch (BATCH_FRAMES, BATCH_SECONDS) and are
applied together; the cursor is stored in the same transaction, so it never passes a frame whose
effects are not committed: a consumer killed at any point resumes from the last applied batch, and
re-applying a frame changes nothing (rows keyed by record URI, older sequence numbers ignored)."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import CloseCode
from websockets.sync.client import connect

from bluesky import clients
from bluesky.atproto.firehose import INFO_OUTDATED_CURSOR, FirehoseFilter, Frame, FrameError, RecordOp, subscribe_url
from bluesky.atproto.repo import Blocks, CommitVerifier, VerificationError
from core import metrics
from core.cache import state_cache
from core.tasks import task_named, task_on_commit
from elonara import atrecords, outside_answers
from elonara.models import RSVP, Event
from network import services as network_services
from network.models import FirehoseCursor

logger = logging.getLogger(__name__)

# Checkpoint the cursor at least this often while frames are skipped unread (otherwise a quiet
# stretch would leave it behind and a restart would replay, or fall out of the relay's window).
CHECKPOINT_SECONDS = 2.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# Verified frames are applied together, in one transaction with the cursor, once this many wait or
# the first has waited this long: a kept commit then costs its own queries only, not a transaction
# and a cursor write of its own (round trips to the database were most of what it cost). Short
# enough that an answer still shows at once and a restart has little to replay.
BATCH_FRAMES = 100
BATCH_SECONDS = 0.25
# A connection that lived this long resets the backoff.
HEALTHY_SECONDS = 30.0
# Relays cap commits well below this; a frame above it closes the connection (and would again).
MAX_FRAME_BYTES = 16 * 1024 * 1024
# A refused frame is logged once per author in this long (a relay sending forgeries must not flood
# the log); every one is counted in the metrics.
REFUSAL_LOG_SECONDS = 300.0
_REFUSAL_LOG_MAX = 10_000
_RESOLVE_HANDLES_TASK = "elonara.tasks.outside_rsvp_handles_resolve"


# --- services -------------------------------------------------------------------------------

def firehose_cursor_get(*, source: str) -> int | None:
    row = FirehoseCursor.objects.filter(source=source).first()
    return row.seq if row and row.seq else None


def _cursor_save(*, source: str, seq: int) -> None:
    updated = FirehoseCursor.objects.filter(source=source, seq__lt=seq).update(seq=seq, updated_at=timezone.now())
    if not updated:
        FirehoseCursor.objects.get_or_create(source=source, defaults={"seq": seq})


def firehose_cursor_checkpoint(*, source: str, seq: int) -> None:
    _cursor_save(source=source, seq=seq)


def firehose_outdated_record(*, source: str, message: str) -> None:
    """The source said our cursor is older than its window: frames were lost. Reported (log at
    WARNING, stored on the cursor row shown in the admin), then reading goes on from what it has."""
    logger.warning("firehose cursor outdated: frames were missed", extra={"source": source, "detail": message[:200]})
    row, _ = FirehoseCursor.objects.get_or_create(source=source)
    row.outdated_at = timezone.now()
    row.last_error = f"OutdatedCursor: {message}"[:300]
    row.save(update_fields=["outdated_at", "last_error", "updated_at"])


@transaction.atomic
def firehose_ops_apply(*, source: str, seq: int, ops: Iterable[RecordOp]) -> list[int]:
    """Apply kept operations (of one frame, or of a batch of frames in their order) and move the
    cursor to `seq`, atomically: `seq` is at or past each op's frame, and no frame it passes is
    left unapplied.

    Returns the ids of outside RSVPs whose handle a worker looks up (queued on commit)."""
    to_resolve: list[int] = []
    for op in ops:
        if op.collection == atrecords.RSVP_NSID:
            to_resolve.extend(_route_answer(op))
        elif op.collection == atrecords.EVENT_NSID:
            _route_event(op)
    _cursor_save(source=source, seq=seq)
    if to_resolve:
        # Lookups take up to seconds each and may fail: a worker does them, the consumer reads on.
        task_on_commit(_RESOLVE_HANDLES_TASK, to_resolve)
    return to_resolve


# The router: whose record an operation is, decided here and only here. Each owner applies its
# own by its rules (elonara.outside_answers for our events and answers to them, network.services
# for other apps' events and answers to those).

def _route_answer(op: RecordOp) -> list[int]:
    if network_services.network_answer_apply(op=op):
        return []  # an answer to an event of another app (or our member's answer to one, echoing)
    own = RSVP.objects.filter(at_uri=op.uri).first()
    if own is not None:
        outside_answers.own_answer_record_apply(own=own, op=op)
        return []
    return outside_answers.answer_record_apply(op=op)


def _route_event(op: RecordOp) -> None:
    # Only what the owner reads (most of these are other apps' events: the lookup is all they cost).
    event = Event.objects.filter(at_uri=op.uri).only("pk", "at_cid").first()
    if event is not None:
        outside_answers.own_event_record_apply(event=event, op=op)
    else:
        # Another app's event (or ours read back before its URI was saved: dropped there).
        network_services.network_event_apply(op=op)


# --- the consumer ---------------------------------------------------------------------------

def connection_end_reason(exc: BaseException) -> tuple[str, str]:
    """Why a firehose connection ended, in words an operator can act on: (reason, detail).
    Reasons: refused, dns, timeout, closed by peer, bad frame, handshake refused, bad address,
    network error."""
    if isinstance(exc, InvalidURI):
        return "bad address", "the source is not a ws:// or wss:// address"
    if isinstance(exc, InvalidStatus):
        return "handshake refused", f"HTTP {exc.response.status_code}"
    if isinstance(exc, InvalidHandshake):
        cause = f" ({type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ is not None else ""
        return "handshake refused", f"{exc}{cause}"[:200]
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd or exc.sent
        code = frame.code if frame is not None else None
        detail = f"close code {code}" + (f": {frame.reason[:200]}" if frame is not None and frame.reason else "")
        if isinstance(exc, ConnectionClosedError) and code in _BAD_FRAME_CODES:
            return "bad frame", detail
        return "closed by peer", detail if frame is not None else "no close frame"
    if isinstance(exc, socket.gaierror):
        return "dns", f"the source's host name did not resolve ({exc.strerror or exc.errno})"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "nothing listens at the source's address"
    if isinstance(exc, TimeoutError):
        return "timeout", "the source did not answer in time"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "closed by peer", "connection reset"
    return "network error", f"{type(exc).__name__}: {exc}"[:200]


# Close codes a peer sends when our frames (or theirs) broke the protocol.
_BAD_FRAME_CODES = {CloseCode.PROTOCOL_ERROR, CloseCode.UNSUPPORTED_DATA, CloseCode.INVALID_DATA,
                    CloseCode.MESSAGE_TOO_BIG}


class _CachedRevs:
    """The last applied rev of each repository in the shared cache, so a restarted consumer still
    refuses an old commit replayed under a new sequence number (the rows' own checks compare the
    relay's sequence numbers, which a hostile relay chooses). Lost entries only weaken the guard.
    Accepted revs are written by `save`, once per batch (one round trip for all of them)."""

    _PREFIX = "firehose:rev:"
    _TIMEOUT = 90 * 24 * 3600

    def __init__(self) -> None:
        self._unsaved: dict[str, str] = {}

    def get(self, did: str) -> str | None:
        try:
            rev = state_cache().get(self._PREFIX + did)
        except Exception:  # noqa: BLE001 - a cache outage must not stop the consumer
            return None
        return rev if isinstance(rev, str) else None

    def put(self, did: str, rev: str) -> None:
        self._unsaved[did] = rev

    def save(self) -> None:
        if not self._unsaved:
            return
        unsaved, self._unsaved = self._unsaved, {}
        try:
            state_cache().set_many({self._PREFIX + did: rev for did, rev in unsaved.items()}, self._TIMEOUT)
        except Exception:  # noqa: BLE001 - a cache outage must not stop the consumer
            logger.warning("firehose revs not kept in the cache")


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified frame waiting in the batch: its rev counts as seen once the batch is committed."""

    seq: int
    repo: str
    rev: str
    ops: list[RecordOp]


def _blocks_of(frame: Frame) -> Blocks:
    """The frame's hash-checked blocks, or the refusal its parsing already found."""
    if frame.refused is not None:
        raise frame.refused
    if frame.blocks is None:
        raise VerificationError("bad_commit", f"a {frame.kind} without blocks")
    return frame.blocks


class FirehoseConsumer:
    """Reads one source until `stop` is set: connect from the stored cursor, apply frames,
    reconnect with backoff. Never raises on a bad frame or a dropped connection.

    The source is not trusted: every frame with operations we keep is verified before they are
    applied (blocks against their CIDs, the commit's signature against the author's DID document,
    each operation against the signed tree, replays by rev; bluesky.atproto.repo). A frame that
    fails is refused whole: counted by reason, logged once per author per interval, never applied.
    There is no switch to turn this off."""

    def __init__(self, *, source: str, stop: threading.Event | None = None,
                 on_frame: Callable[[Frame], None] | None = None) -> None:
        self.source = source.rstrip("/")
        self.stop = stop or threading.Event()
        self.filter = FirehoseFilter(atrecords.COLLECTIONS)
        self._revs = _CachedRevs()
        self.verifier = CommitVerifier(keys=clients.repo_signing_key, revs=self._revs)
        self.on_frame = on_frame
        # Every app's tasks module loaded now, not when the first kept frame queues a task: that
        # load (Celery's autodiscovery, lazy outside a worker) takes most of a second.
        task_named(_RESOLVE_HANDLES_TASK)
        self._refusals_logged: dict[str, float] = {}
        self._last_checkpoint = 0.0
        self._seen_seq: int | None = None
        self._saved_seq: int | None = None
        self._batch: list[_Verified] = []
        self._batch_since = 0.0

    def run(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self._session()
            except ConnectionClosed as exc:
                if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self._skip_oversized()
                else:
                    self._log_connection_end(exc)
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._log_connection_end(exc)
            except DatabaseError as exc:
                # The database went away: drop the connection, reconnect later from the stored cursor.
                logger.warning("firehose consumer lost the database", extra={"failure": type(exc).__name__})
                close_old_connections()
            if self.stop.is_set():
                break
            if time.monotonic() - started > HEALTHY_SECONDS:
                delay = BACKOFF_FIRST_SECONDS
            wait = delay * random.uniform(0.5, 1.5)
            logger.info("firehose reconnecting", extra={"source": self.source, "in_seconds": round(wait, 1)})
            self.stop.wait(wait)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)

    def _log_connection_end(self, exc: BaseException) -> None:
        reason, detail = connection_end_reason(exc)
        logger.info("firehose connection lost: %s", reason,
                    extra={"source": self.source, "reason": reason, "detail": detail, "failure": type(exc).__name__})

    def _skip_oversized(self) -> None:
        # A frame above MAX_FRAME_BYTES closed the connection; resuming from the same cursor would
        # receive it again, forever. Skip it: the next frame after the last one seen.
        metrics.firehose_frame_skipped("too_large")
        seq = self._seen_seq if self._seen_seq is not None else firehose_cursor_get(source=self.source)
        logger.warning("firehose frame skipped: larger than the limit",
                       extra={"source": self.source, "after_seq": seq, "limit_bytes": MAX_FRAME_BYTES})
        if seq is not None:
            firehose_cursor_checkpoint(source=self.source, seq=seq + 1)
            self._seen_seq = self._saved_seq = seq + 1

    def _session(self) -> None:
        cursor = firehose_cursor_get(source=self.source)
        url = subscribe_url(self.source, cursor=cursor)
        logger.info("firehose connecting", extra={"source": self.source, "cursor": cursor})
        with connect(url, max_size=MAX_FRAME_BYTES, open_timeout=10, close_timeout=2) as ws:
            try:
                while not self.stop.is_set():
                    try:
                        data = ws.recv(timeout=self._wait_seconds())
                    except TimeoutError:
                        self._checkpoint(force=True)
                        continue
                    if isinstance(data, str):
                        logger.info("firehose text frame skipped", extra={"source": self.source})
                        continue
                    if not self.receive(data):
                        return
                self._checkpoint(force=True)
            finally:
                self.flush()  # however the connection ended, what was verified is applied

    def _wait_seconds(self) -> float:
        """How long to wait for the next frame: until the batch is due, when one waits."""
        if not self._batch:
            return 1.0
        return max(self._batch_since + BATCH_SECONDS - time.monotonic(), 0.0)

    def handle(self, data: bytes) -> bool:
        """Apply one frame now (`receive`, then `flush`). False: the server reported an error and
        the connection should close."""
        more = self.receive(data)
        self.flush()
        return more

    def receive(self, data: bytes) -> bool:
        """Take one frame: a verified one's operations join the batch, applied by `flush` (called
        here once the batch is full or due). False: the server reported an error and the connection
        should close."""
        need_seq = time.monotonic() - self._last_checkpoint > CHECKPOINT_SECONDS
        try:
            frame = self.filter.parse(data, need_seq=need_seq)
        except FrameError as exc:
            metrics.firehose_frame_skipped("undecodable")
            logger.warning("firehose frame skipped: cannot decode", extra={"source": self.source, "detail": str(exc)})
            return True
        if frame is None:
            return True
        if self.on_frame is not None:
            self.on_frame(frame)
        if frame.kind in ("error", "#info"):
            return self._message(frame)
        if frame.seq is None:
            return True
        self._seen_seq = frame.seq
        if frame.kind in ("#identity", "#sync"):
            self._repo_event(frame)
        elif (frame.ops or frame.refused is not None) and not self._verified(frame):
            frame.ops = []  # refused: nothing of it is applied; the cursor moves past it below
        if not frame.ops:
            self._checkpoint(force=need_seq)
            return True
        if not self._batch:
            self._batch_since = time.monotonic()
        self._batch.append(_Verified(seq=frame.seq, repo=frame.repo, rev=frame.rev, ops=frame.ops))
        if len(self._batch) >= BATCH_FRAMES or time.monotonic() - self._batch_since >= BATCH_SECONDS:
            self.flush()
        return True

    def flush(self) -> None:
        """Apply the batch and move the cursor to the last frame seen, in one transaction (every
        frame up to it is in the batch or had nothing to apply); then the batch's revs count as
        seen. A batch that fails is applied again frame by frame, each in its own transaction, so
        one bad record costs only its own frame, as if each had been applied alone."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        last = self._seen_seq if self._seen_seq is not None else batch[-1].seq
        saved: int | None = last
        try:
            firehose_ops_apply(source=self.source, seq=last, ops=[op for each in batch for op in each.ops])
        except Exception:  # noqa: BLE001 - one bad record must not stop the consumer (nor its batch)
            batch = [each for each in batch if self._apply_alone(each)]
            saved = batch[-1].seq if batch else None
        if saved is not None:
            self._last_checkpoint = time.monotonic()
            self._saved_seq = max(saved, self._saved_seq or 0)
        for each in batch:
            self.verifier.accept(each.repo, each.rev)
        self._revs.save()

    def _apply_alone(self, verified: _Verified) -> bool:
        try:
            firehose_ops_apply(source=self.source, seq=verified.seq, ops=verified.ops)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the consumer
            logger.error("firehose frame not applied", extra={"source": self.source, "seq": verified.seq,
                                                               "failure": type(exc).__name__})
            return False
        return True

    def _message(self, frame: Frame) -> bool:
        """An error or #info frame from the source. False: the connection should close."""
        self.flush()  # what came before it is applied first (a FutureCursor resets the cursor)
        if frame.kind == "#info":
            if frame.name == INFO_OUTDATED_CURSOR:
                firehose_outdated_record(source=self.source, message=frame.message)
            else:
                logger.info("firehose info", extra={"source": self.source, "name": frame.name})
            return True
        logger.warning("firehose error frame", extra={"source": self.source, "error": frame.name})
        if frame.name == "FutureCursor":
            # Our cursor is ahead of the source (it was reset): start again from its present.
            FirehoseCursor.objects.filter(source=self.source).update(seq=0, last_error="FutureCursor")
            self._seen_seq = self._saved_seq = None
        return False

    def _verified(self, frame: Frame) -> bool:
        try:
            self.verifier.verify(repo=frame.repo, rev=frame.rev, commit=frame.commit, blocks=_blocks_of(frame),
                                 ops=frame.claims)
            self._not_in_batch(frame)
        except VerificationError as exc:
            self._refused(frame, exc)
            return False
        return True

    def _not_in_batch(self, frame: Frame) -> None:
        """The replay guard for the batch: the verifier knows the revs of applied commits only, so
        a commit not newer than one of its repository still waiting in the batch is refused here."""
        waiting = next((each.rev for each in reversed(self._batch) if each.repo == frame.repo), None)
        if waiting is not None and frame.rev <= waiting:
            raise VerificationError("replay", "the commit is not newer than one already seen")

    def _repo_event(self, frame: Frame) -> None:
        if frame.kind == "#identity":
            metrics.firehose_repo_event("identity")
            if frame.repo:
                self.verifier.identity_changed(frame.repo)  # key rotation: ask the directory again
            return
        metrics.firehose_repo_event("sync")
        self.flush()  # the repository's waiting commits are accepted before its reset, not after
        try:
            self.verifier.sync_accept(did=frame.repo, rev=frame.rev, blocks=_blocks_of(frame))
        except VerificationError as exc:
            self._refused(frame, exc)
        self._revs.save()

    def _refused(self, frame: Frame, exc: VerificationError) -> None:
        metrics.firehose_frame_refused(exc.reason)
        now = time.monotonic()
        last = self._refusals_logged.get(frame.repo)
        if last is not None and now - last < REFUSAL_LOG_SECONDS:
            return
        if len(self._refusals_logged) >= _REFUSAL_LOG_MAX:
            self._refusals_logged.clear()
        self._refusals_logged[frame.repo] = now
        logger.warning("firehose frame refused: it does not prove what it claims",
                       extra={"source": self.source, "seq": frame.seq, "repo": frame.repo[:100],
                              "reason": exc.reason, "detail": str(exc)})

    def _checkpoint(self, *, force: bool) -> None:
        if not force:
            return
        if not connection.in_atomic_block:
            close_old_connections()  # a long-running process: honour CONN_MAX_AGE and health checks
        self.flush()  # a waiting batch stores the cursor itself: never past a frame not yet applied
        if self._seen_seq is not None:
            if self._seen_seq != self._saved_seq:
                firehose_cursor_checkpoint(source=self.source, seq=self._seen_seq)
                self._saved_seq = self._seen_seq
            self._last_checkpoint = time.monotonic()
