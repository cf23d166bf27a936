"""The one write pipeline: every write to Bluesky (invitation posts, event and RSVP records,
deletions) takes one attempt at a time through the same steps and the same policy.

    load -> pace -> compose -> write -> settle

- `pace`: the account's write budget (`bluesky.budget`) gives a slot; before it, the attempt waits.
- `after_failure`: what a failed write means for the next attempt: back off (transient), wait for
  a 429's reset (and push the budget back), or stop (a rejected token, a permanent refusal, or too
  many attempts).
- `Outcome`: what one attempt decided: done, wait until a moment, or failed with a reason and
  whether a person retrying could help.

Waits never sit in the broker as countdown messages longer than the dispatch horizon (a Redis
message not acknowledged within the visibility timeout is delivered again: one wait of 62 s beside
a 20 s timeout ran three times). A wait is a due time in the database; `dispatch_due` (beat) claims
what is due within the horizon with SKIP LOCKED and publishes it. Record writes are rows of
`RecordWrite` (below); invitations keep theirs on the invitation row and register as a source.

Exactly once under redelivery: every published message carries the row's current token; a run
first swaps the token out (one conditional UPDATE), so a second delivery of the same message, or a
message the dispatcher has since replaced, does nothing. A run that dies mid-write keeps its lease
until it expires; the dispatcher then publishes it again, and the write itself is idempotent (a
fixed record key, read-merge-write), so the record is written once and the state stays true.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from bluesky.agents.results import BlueskyResult
from bluesky.budget import PacingBusy, WriteBudget, pacing_enabled
from bluesky.errors import Reason
from bluesky.models import RecordWrite
from core.tasks import task_named

if TYPE_CHECKING:
    from bluesky.agents.base import BlueskyAgentInterface, PostingAccount

logger = logging.getLogger(__name__)

# --- the one set of constants ------------------------------------------------------------------
MAX_TRANSIENT_ATTEMPTS = 6
MAX_RATE_LIMITED_ATTEMPTS = 20
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# A slot this close is now.
EARLY_TOLERANCE_SECONDS = 0.05
# The budget's lock is busy: look again this soon.
BUSY_WAIT_SECONDS = (0.2, 1.0)
# After a 429's reset, a little jitter so the waiting writes do not all come back at once.
RESET_JITTER_SECONDS = (0.5, 3.0)


def claim_lease() -> timedelta:
    """How long a published or running write is left alone before the dispatcher publishes it
    again (a lost message, a killed worker)."""
    return timedelta(seconds=settings.BLUESKY_WRITE_LEASE_SECONDS)


def dispatch_horizon() -> float:
    """Waits up to this long may be countdown messages; longer ones are due times in the database.
    The start-up check keeps it below the broker's visibility timeout."""
    return float(settings.INVITATIONS_DISPATCH_HORIZON_SECONDS)


# --- one attempt's outcome ---------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one attempt decided.

    `kind`: "done" (nothing more to do: written, or nothing to write), "wait" (attempt again at
    `until`, epoch seconds; `slot_at`: the budget slot already reserved for it) or "failed"
    (final: `reason` code, `message` for people, `retryable`: whether a person retrying may help).
    `state`: the caller's own word for where it stands ("published", "sent", "deleted", ...).
    """

    kind: Literal["done", "wait", "failed"]
    state: str = ""
    until: float | None = None
    slot_at: float | None = None
    reason: str = ""
    message: str = ""
    retryable: bool = False

    @classmethod
    def done(cls, state: str = "done") -> Outcome:
        return cls(kind="done", state=state)

    @classmethod
    def wait(cls, until: float, *, slot_at: float | None = None, state: str = "pending", reason: str = "",
             message: str = "") -> Outcome:
        return cls(kind="wait", state=state, until=until, slot_at=slot_at, reason=reason, message=message)

    @classmethod
    def failed(cls, reason: str, message: str, *, retryable: bool = False, state: str = "failed") -> Outcome:
        return cls(kind="failed", state=state, reason=reason, message=message, retryable=retryable)

    def with_state(self, state: str) -> Outcome:
        return Outcome(kind=self.kind, state=state, until=self.until, slot_at=self.slot_at, reason=self.reason,
                       message=self.message, retryable=self.retryable)

    @property
    def retry_in(self) -> float | None:
        """Seconds until the next attempt (a wait), else None."""
        return max(self.until - time.time(), 0.0) if self.kind == "wait" and self.until is not None else None


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1` after a transient failure: doubling, capped, jittered."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(attempt - 1, 0))
    return base * random.uniform(0.5, 1.5)  # jitter, not security


# --- the one pacing wait -----------------------------------------------------------------------
def pace(*, account_key: str, slot_at: float | None, state: str = "pending") -> Outcome | None:
    """Wait for the account's write budget. None: write now. `slot_at`: a slot reserved by an
    earlier attempt of this same write (it is honoured, never reserved twice). A slot that has
    come is not spent blindly: the budget's turn writes only if the account's last write is a
    whole gap ago, else re-paces this write to a fresh slot (see `bluesky.budget`), however the
    write arrived (first dispatch, redelivery after a kill, catch-up, retry after a 429)."""
    now = time.time()
    if slot_at is not None and slot_at - now > EARLY_TOLERANCE_SECONDS:
        # Early (a redelivered message, a countdown cut short): wait for the slot.
        return Outcome.wait(slot_at, slot_at=slot_at, state=state)
    if not pacing_enabled():
        return None
    try:
        slot = WriteBudget(account=account_key).turn(now=now, slot_at=slot_at)
    except PacingBusy:
        return Outcome.wait(now + random.uniform(*BUSY_WAIT_SECONDS), slot_at=slot_at, state=state)
    if slot is None:
        return None
    return Outcome.wait(slot, slot_at=slot, state=state)


# --- the one after-failure policy --------------------------------------------------------------
def after_failure(result: BlueskyResult, *, attempt: int, account_key: str, state: str = "pending") -> Outcome:
    """What a failed write means. `attempt`: this attempt's number (1 for the first write)."""
    reason = result.reason or Reason.INTERNAL_ERROR
    message = result.error or "Bluesky refused the write."
    if reason == Reason.NEEDS_REAUTHORIZATION or not result.retryable:
        # A rejected token (the session already renewed once and was refused again) or a
        # permanent refusal: trying again cannot help until a person acts.
        return Outcome.failed(reason, message, retryable=False)
    now = time.time()
    if reason == Reason.RATE_LIMITED:
        if attempt > MAX_RATE_LIMITED_ATTEMPTS:
            return Outcome.failed(reason, message, retryable=True)
        reset = result.retry_after.timestamp() if result.retry_after else now + backoff(attempt)
        if pacing_enabled():
            # Nobody writes for this account before the reset; a fresh slot is taken after it.
            WriteBudget(account=account_key).push_back(until=reset)
        return Outcome.wait(max(reset, now) + random.uniform(*RESET_JITTER_SECONDS), state=state,
                            reason=reason, message=message)
    if attempt >= MAX_TRANSIENT_ATTEMPTS:
        return Outcome.failed(reason, message, retryable=True)
    delay = backoff(attempt)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after.timestamp() - now)
    return Outcome.wait(now + delay, state=state, reason=reason, message=message)


# --- record writes: due times in the database --------------------------------------------------
# kind -> one attempt: (object_id, job) -> Outcome. Registered by the app that owns the kind
# (elonara: "event", "rsvp"); "delete" is this module's own.
Writer = Callable[[RecordWrite], Outcome]
_WRITERS: dict[str, Writer] = {}


def register_writer(kind: str, writer: Writer) -> None:
    _WRITERS[kind] = writer


def registered_kinds() -> list[str]:
    return sorted(_WRITERS)


RUN_TASK = "bluesky.write_record"
DISPATCH_TASK = "bluesky.dispatch_due"


def dispatch_soon() -> None:
    """Ask for a dispatch round now instead of at the next beat (new work starts at once)."""
    task_named(DISPATCH_TASK).delay()


def _token() -> str:
    return secrets.token_urlsafe(12)


def record_write_queue(*, kind: str, member_id: int, object_id: int | None = None, collection: str = "",
                       rkey: str = "") -> None:
    """Ask for this write to happen (call inside the caller's transaction). One row per thing to
    write: asking again (an edit while a write waits or runs) never makes a second write in
    parallel. A waiting write keeps its reserved slot; a running one runs again when it ends."""
    now = timezone.now()
    lease = now + claim_lease()
    token = _token()
    lookup: dict[str, Any] = {"kind": kind}
    if kind == RecordWrite.Kind.DELETE:
        lookup.update(member_id=member_id, collection=collection, rkey=rkey)
    else:
        lookup["object_id"] = object_id
    # Two statements at most, no lock held: bump the existing row (a running one keeps running and
    # writes again when it ends, as it sees the version change; the others get a new token, so any
    # older message becomes a no-op), or insert it.
    idle = Q(running=False)
    bumped = RecordWrite.objects.filter(**lookup).update(
        version=F("version") + 1, updated_at=now,
        token=Case(When(idle, then=Value(token)), default=F("token")),
        due_at=Case(When(idle, then=Value(lease)), default=F("due_at")))
    if not bumped:
        # A concurrent insert wins the conflict; its own message writes what we asked for.
        row = {"member_id": member_id, "collection": collection, "rkey": rkey, **lookup}
        RecordWrite.objects.bulk_create([RecordWrite(**row, due_at=lease, token=token)], ignore_conflicts=True)
    # Published whatever happened above: a message whose token is not the row's does nothing.
    transaction.on_commit(lambda: task_named(RUN_TASK).delay(token))


def record_write_reset_attempts(*, kind: str, object_id: int) -> None:
    """A person asked to try again: the attempt ladder starts over."""
    RecordWrite.objects.filter(kind=kind, object_id=object_id).update(attempts=0)


@dataclass(frozen=True)
class Claimed:
    """A message to publish: `task` with these arguments, `countdown` seconds from now."""

    task: str
    args: list[Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    countdown: float = 0.0


def record_writes_claim_due(*, limit: int | None = None, horizon: float | None = None) -> list[Claimed]:
    """Claim up to `limit` record writes due within `horizon`: each gets a new token (any older
    message for it becomes a no-op) and a lease, and is returned with its countdown. Rows another
    dispatcher holds are skipped (PostgreSQL SKIP LOCKED; SQLite's IMMEDIATE transaction
    serialises dispatchers)."""
    limit = limit or settings.INVITATIONS_DISPATCH_BATCH
    horizon = dispatch_horizon() if horizon is None else horizon
    now = timezone.now()
    claimed = []
    with transaction.atomic():
        rows = list(RecordWrite.objects.select_for_update(skip_locked=True)
                    .filter(due_at__lte=now + timedelta(seconds=horizon))
                    .order_by("due_at").values_list("pk", "due_at")[:limit])
        for pk, due in rows:
            token = _token()
            # A lost run (lease over) is no longer running: this message replaces it.
            RecordWrite.objects.filter(pk=pk).update(token=token, running=False,
                                                     due_at=max(due, now) + claim_lease(), updated_at=now)
            claimed.append(Claimed(task=RUN_TASK, args=[token],
                                   countdown=max((due - now).total_seconds(), 0.0)))
    return claimed


def record_write_run(*, token: str) -> str:
    """Run the attempt this message stands for, once: a duplicate delivery finds its token gone."""
    now = timezone.now()
    if not token:
        return "duplicate"
    with transaction.atomic():
        job = RecordWrite.objects.select_for_update().filter(token=token).first()
        if job is None:
            return "duplicate"
        RecordWrite.objects.filter(pk=job.pk).update(token="", running=True, due_at=now + claim_lease(),
                                                     updated_at=now)
    job_id = job.pk
    writer = _WRITERS.get(job.kind)
    if writer is None:
        logger.error("no writer for this kind of record write", extra={"kind": job.kind})
        RecordWrite.objects.filter(pk=job_id).delete()
        return "failed"
    outcome = writer(job)
    _settle_job(job, outcome)
    return outcome.state


def _settle_job(job: RecordWrite, outcome: Outcome) -> None:
    """Keep the next attempt's time in the database; publish it only if it is within the horizon."""
    now = timezone.now()
    publish: tuple[str, float] | None = None
    with transaction.atomic():
        current = RecordWrite.objects.select_for_update().filter(pk=job.pk).first()
        if current is None:
            return
        edited = current.version != job.version
        if outcome.kind == "wait" and outcome.until is not None:
            delay = max(outcome.until - time.time(), 0.0)
            slot = datetime.fromtimestamp(outcome.slot_at, tz=UTC) if outcome.slot_at is not None else None
            # (Edited meanwhile: the wait stands; the attempt after it composes the newer version.)
            fields: dict[str, Any] = {"running": False, "slot_at": slot, "updated_at": now,
                                      "last_error": outcome.message[:300]}
            if delay <= dispatch_horizon():
                token = _token()
                fields.update(token=token, due_at=now + claim_lease())
                publish = (token, delay)
            else:
                fields.update(token="", due_at=now + timedelta(seconds=delay))
            RecordWrite.objects.filter(pk=job.pk).update(**fields)
        elif edited:
            # Changed while it was being written: write the newer version now (a fresh ladder).
            token = _token()
            RecordWrite.objects.filter(pk=job.pk).update(
                token=token, running=False, due_at=now + claim_lease(), slot_at=None, attempts=0, updated_at=now)
            publish = (token, 0.0)
        else:
            current.delete()
    if publish is not None:
        token, countdown = publish
        transaction.on_commit(lambda: task_named(RUN_TASK).apply_async(args=[token], countdown=countdown or None))


def record_write_count_attempt(job: RecordWrite) -> int:
    """Count one write attempt of this job (after pacing: a wait is not an attempt); its number."""
    RecordWrite.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)
    job.attempts += 1
    return job.attempts


# --- the one dispatcher ------------------------------------------------------------------------
# Every place that keeps due times registers how to claim them (record writes here; invitations).
_SOURCES: dict[str, Callable[[], list[Claimed]]] = {"records": record_writes_claim_due}


def register_due_source(name: str, claim: Callable[[], list[Claimed]]) -> None:
    _SOURCES[name] = claim


def claim_due_round() -> list[Claimed]:
    """One batch from every source (an empty list: nothing is due within the horizon)."""
    claimed: list[Claimed] = []
    for claim in _SOURCES.values():
        claimed.extend(claim())
    return claimed


# --- deletions: the pipeline's own writer ------------------------------------------------------
def record_delete(*, member_id: int, collection: str, rkey: str, slot_at: float | None = None,
                  count_attempt: Callable[[], int] = lambda: 1) -> Outcome:
    """One attempt to delete one of the member's records (the row it mirrored is already gone).
    Load, pace, write, settle; deleting a record that is not there is done too."""
    member = get_user_model().objects.filter(pk=member_id).first()
    if member is None:
        return Outcome.done("missing")
    chosen = record_agent_for(member)
    if chosen is None:
        logger.info("record not deleted: no account", extra={"member": member_id, "collection": collection})
        return Outcome.failed(Reason.NOT_CONNECTED, "No Bluesky account to delete the record with.")
    agent, account = chosen
    waiting = pace(account_key=account.key, slot_at=slot_at)
    if waiting is not None:
        return waiting
    attempt = count_attempt()
    result = agent.record_delete_for_member(member, collection=collection, rkey=rkey)
    if result.success:
        return Outcome.done("deleted")
    outcome = after_failure(result, attempt=attempt, account_key=account.key)
    if outcome.kind == "failed":
        logger.info("record not deleted", extra={"member": member_id, "reason": result.reason})
    return outcome


def _slot(job: RecordWrite) -> float | None:
    return job.slot_at.timestamp() if job.slot_at is not None else None


def _delete_writer(job: RecordWrite) -> Outcome:
    return record_delete(member_id=job.member_id, collection=job.collection, rkey=job.rkey, slot_at=_slot(job),
                         count_attempt=lambda: record_write_count_attempt(job))


register_writer(RecordWrite.Kind.DELETE, _delete_writer)


# --- a member's own records mirroring a row: one write and its settling -------------------------

def record_agent_for(member: Any) -> tuple[BlueskyAgentInterface[Any], PostingAccount] | None:
    """The agent writing `member`'s own records and the account it uses (None: none can): the one
    place the pipeline's record writers and deleters choose it."""
    from bluesky.agents.factory import BlueskyAgentFactory

    return BlueskyAgentFactory.make_for_records(member)


def member_record_put(*, rows: QuerySet[Any], row: Any, member: Any, collection: str, rkey: str,
                      record: Callable[[], dict[str, Any]], managed_keys: frozenset[str],
                      slot_at: float | None) -> Outcome:
    """One attempt to write a record in `member`'s own repository mirroring `row` (a row with the
    published-record fields: at_rkey, at_uri, at_cid, publish_state, ...), then settle those
    fields: pace, count the attempt, put at the fixed `rkey`, record what the PDS answered.

    Every answer record is written and settled here (our events' RSVPs and other apps' events'
    alike). The row is marked published only if nobody changed it meanwhile (`updated_at`): a
    change asked for another write, which writes the newer version."""
    mine = rows.filter(pk=row.pk)
    chosen = record_agent_for(member)
    if chosen is None:
        mine.update(publish_state="", publish_error="")
        return Outcome.done("")
    agent, account = chosen
    waiting = pace(account_key=account.key, slot_at=slot_at, state="pending")
    if waiting is not None:
        return waiting
    mine.update(at_rkey=rkey, publish_attempts=F("publish_attempts") + 1)
    attempt = row.publish_attempts + 1
    result = agent.record_put_for_member(member, collection=collection, rkey=rkey, record=record(),
                                         managed_keys=managed_keys)
    if result.success:
        mine.update(at_uri=result.uri, at_cid=result.cid, at_repo_did=result.repo_did, published_at=timezone.now())
        mine.filter(updated_at=row.updated_at).update(publish_state="published", publish_error="",
                                                      publish_attempts=0)
        return Outcome.done("published")
    outcome = after_failure(result, attempt=attempt, account_key=account.key, state="pending")
    if outcome.kind == "failed":
        mine.update(publish_state="failed", publish_error=outcome.message[:300])
        return outcome.with_state("failed")
    mine.update(publish_error=outcome.message[:300])
    return outcome


def job_slot_at(job: RecordWrite) -> float | None:
    """The slot already reserved for this job's next attempt (epoch seconds), if any."""
    return _slot(job)
