"""Services: events and RSVPs published as records in their authors' own repositories.

The flow: a write service (event_create/update/cancel, rsvp_set) calls `*_publish_queue` inside its
transaction. That marks the row pending, fixes its record key before the first write (so a retried
task overwrites, never duplicates) and queues a Celery task on commit. The task calls
`event_publish` / `rsvp_publish`: one paced attempt through the member's own credentials (OAuth
grant or their app password, never the relay), then published, retried later, or failed with a
reason the event page shows.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bluesky.agents.base import BlueskyAgentInterface, PostingAccount
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.results import BlueskyResult
from bluesky.budget import PacingBusy, WriteBudget, pacing_enabled
from bluesky.errors import Reason
from bluesky.records import tid_now
from elonara import atrecords
from elonara.errors import NotAllowedError
from elonara.models import RSVP, Event, PublishState
from members.models import Member

logger = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 6
MAX_RATE_LIMITED_ATTEMPTS = 20
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# An RSVP waits this long between looks at an event whose own record is still being written.
EVENT_WAIT_SECONDS = 3.0
MAX_EVENT_WAITS = 40


@dataclass(frozen=True)
class PublishOutcome:
    """What one attempt decided. `retry_in` set: run the task again after that many seconds."""

    state: str
    retry_in: float | None = None
    slot_at: float | None = None
    # An RSVP waiting for its event's record (counted, so it cannot wait forever).
    waiting_for_event: bool = False


def _backoff(attempt: int) -> float:
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0)))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def _record_agent(member: Member) -> tuple[BlueskyAgentInterface, PostingAccount] | None:
    return BlueskyAgentFactory.make_for_records(member)


# --- queueing (called inside the caller's transaction) -----------------------------------------

def event_publish_queue(*, event: Event) -> bool:
    """Mark the event's record pending and queue its write on commit. False: the host has no
    Bluesky account to publish with (nothing is queued; a record written earlier is kept in sync
    as soon as the host connects again and edits)."""
    if _record_agent(event.host) is None:
        return False
    rkey = event.at_rkey or tid_now()
    Event.objects.filter(pk=event.pk).update(at_rkey=rkey, publish_state=PublishState.PENDING, publish_error="")
    event.at_rkey, event.publish_state, event.publish_error = rkey, PublishState.PENDING, ""
    event_id = event.pk

    def queue() -> None:
        from elonara.tasks import publish_event

        publish_event.delay(event_id)

    transaction.on_commit(queue)
    return True


def host_can_publish(*, host: Member) -> bool:
    """Whether the host has an account of their own to write event records with."""
    return _record_agent(host) is not None


@transaction.atomic
def event_publish_again(*, event: Event, actor: Member) -> bool:
    """The host asks to (re)publish now: after a failure, or after connecting Bluesky."""
    if event.host_id != actor.pk:
        raise NotAllowedError("Only the host can publish this event.")
    Event.objects.filter(pk=event.pk).update(publish_attempts=0)
    return event_publish_queue(event=event)


def rsvp_publish_queue(*, rsvp: RSVP) -> bool:
    """Same for a member's answer (only when the event itself is or is being published)."""
    event = rsvp.event
    if not event.at_rkey or _record_agent(rsvp.member) is None:
        return False
    RSVP.objects.filter(pk=rsvp.pk).update(publish_state=PublishState.PENDING, publish_error="")
    rsvp.publish_state, rsvp.publish_error = PublishState.PENDING, ""
    rsvp_id = rsvp.pk

    def queue() -> None:
        from elonara.tasks import publish_rsvp

        publish_rsvp.delay(rsvp_id)

    transaction.on_commit(queue)
    return True


def record_delete_queue(*, member: Member, collection: str, rkey: str) -> None:
    """Delete a record of `member`'s on commit (an event deleted here, or an RSVP with it)."""
    member_id = member.pk

    def queue() -> None:
        from elonara.tasks import delete_record

        delete_record.delay(member_id, collection, rkey)

    transaction.on_commit(queue)


# --- one attempt (called by the tasks) ----------------------------------------------------------

def _paced(account: PostingAccount, slot_at: float | None) -> PublishOutcome | None:
    """Wait for the account's write budget (the same one invitations spend). None: write now."""
    if not pacing_enabled() or slot_at is not None:
        return None
    try:
        slot = WriteBudget(account=account.key).reserve()
    except PacingBusy:
        return PublishOutcome(state=PublishState.PENDING, retry_in=random.uniform(0.2, 1.0))  # noqa: S311
    wait = slot - time.time()
    if wait > 0.05:
        return PublishOutcome(state=PublishState.PENDING, retry_in=wait, slot_at=slot)
    return None


def _after_failure(result: BlueskyResult, *, attempt: int, account: PostingAccount) -> float | None:
    """Seconds until the next attempt, or None: give up (the failure is final)."""
    if not result.retryable:
        return None
    if result.reason == Reason.RATE_LIMITED:
        if attempt > MAX_RATE_LIMITED_ATTEMPTS:
            return None
        reset = result.retry_after.timestamp() if result.retry_after else time.time() + _backoff(attempt)
        if pacing_enabled():
            WriteBudget(account=account.key).push_back(until=reset)
        return max(reset - time.time(), 0) + random.uniform(0.5, 3.0)  # noqa: S311
    if attempt >= MAX_TRANSIENT_ATTEMPTS:
        return None
    delay = _backoff(attempt)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after.timestamp() - time.time())
    return delay


def event_publish(*, event_id: int, slot_at: float | None = None) -> PublishOutcome:
    """Write the event's record as the event is now. Safe to run any number of times."""
    event = Event.objects.select_related("host").filter(pk=event_id).first()
    if event is None or not event.at_rkey:
        return PublishOutcome(state="missing")
    chosen = _record_agent(event.host)
    if chosen is None:
        Event.objects.filter(pk=event_id).update(publish_state=PublishState.FAILED,
                                                 publish_error="No Bluesky account to publish with.")
        return PublishOutcome(state=PublishState.FAILED)
    agent, account = chosen
    waiting = _paced(account, slot_at)
    if waiting is not None:
        return waiting
    Event.objects.filter(pk=event_id).update(publish_attempts=F("publish_attempts") + 1)
    attempt = event.publish_attempts + 1
    seen = event.updated_at
    result = agent.record_put_for_member(event.host, collection=atrecords.EVENT_NSID, rkey=event.at_rkey,
                                         record=atrecords.event_record(event=event),
                                         managed_keys=atrecords.EVENT_KEYS)
    if result.success:
        Event.objects.filter(pk=event_id).update(at_uri=result.uri, at_cid=result.cid, at_repo_did=result.repo_did,
                                                 published_at=timezone.now())
        # Published only if nobody edited the event meanwhile: otherwise the edit's own task is
        # queued and will write the newer version (this one must not hide it as "published").
        Event.objects.filter(pk=event_id, updated_at=seen).update(
            publish_state=PublishState.PUBLISHED, publish_error="", publish_attempts=0)
        _queue_waiting_rsvps(event_id=event_id)
        return PublishOutcome(state=PublishState.PUBLISHED)
    retry_in = _after_failure(result, attempt=attempt, account=account)
    if retry_in is None:
        Event.objects.filter(pk=event_id).update(publish_state=PublishState.FAILED,
                                                 publish_error=result.error[:300])
        logger.info("event record not published", extra={"event": event_id, "reason": result.reason})
        return PublishOutcome(state=PublishState.FAILED)
    Event.objects.filter(pk=event_id).update(publish_error=result.error[:300])
    return PublishOutcome(state=PublishState.PENDING, retry_in=retry_in)


def _queue_waiting_rsvps(*, event_id: int) -> None:
    """RSVPs given before the event's first record existed: write them now."""
    for rsvp in RSVP.objects.select_related("event", "member").filter(
            event_id=event_id, publish_state=PublishState.PENDING, at_uri=""):
        with transaction.atomic():
            rsvp_publish_queue(rsvp=rsvp)


def rsvp_publish(*, rsvp_id: int, slot_at: float | None = None, waits: int = 0) -> PublishOutcome:
    """Write the member's answer as their RSVP record (one fixed key per event)."""
    rsvp = RSVP.objects.select_related("event", "member").filter(pk=rsvp_id).first()
    if rsvp is None:
        return PublishOutcome(state="missing")
    if rsvp.status not in RSVP.ANSWERS:
        # Waiting for a seat or an approval since this was queued: nothing to write until then.
        kept = PublishState.PUBLISHED if rsvp.at_uri else PublishState.NONE
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=kept)
        return PublishOutcome(state=PublishState.NONE)
    event = rsvp.event
    if not event.at_uri or not event.at_cid:
        if event.publish_state == PublishState.PENDING and waits < MAX_EVENT_WAITS:
            # The event's record is being written; its success queues this again too.
            return PublishOutcome(state=PublishState.PENDING, retry_in=EVENT_WAIT_SECONDS, waiting_for_event=True)
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=PublishState.NONE,
                                               publish_error="The event is not published on Bluesky.")
        return PublishOutcome(state=PublishState.NONE)
    chosen = _record_agent(rsvp.member)
    if chosen is None:
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=PublishState.NONE, publish_error="")
        return PublishOutcome(state=PublishState.NONE)
    agent, account = chosen
    waiting = _paced(account, slot_at)
    if waiting is not None:
        return waiting
    rkey = rsvp.at_rkey or atrecords.rsvp_rkey(member_id=rsvp.member_id, event_uri=event.at_uri)
    RSVP.objects.filter(pk=rsvp_id).update(at_rkey=rkey, publish_attempts=F("publish_attempts") + 1)
    attempt = rsvp.publish_attempts + 1
    seen = rsvp.updated_at
    record = atrecords.rsvp_record(rsvp=rsvp, event_uri=event.at_uri, event_cid=event.at_cid,
                                   created_at=rsvp.updated_at)
    result = agent.record_put_for_member(rsvp.member, collection=atrecords.RSVP_NSID, rkey=rkey, record=record,
                                         managed_keys=atrecords.RSVP_KEYS)
    if result.success:
        RSVP.objects.filter(pk=rsvp_id).update(at_uri=result.uri, at_cid=result.cid, at_repo_did=result.repo_did,
                                               published_at=timezone.now())
        RSVP.objects.filter(pk=rsvp_id, updated_at=seen).update(
            publish_state=PublishState.PUBLISHED, publish_error="", publish_attempts=0)
        return PublishOutcome(state=PublishState.PUBLISHED)
    retry_in = _after_failure(result, attempt=attempt, account=account)
    if retry_in is None:
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=PublishState.FAILED, publish_error=result.error[:300])
        return PublishOutcome(state=PublishState.FAILED)
    RSVP.objects.filter(pk=rsvp_id).update(publish_error=result.error[:300])
    return PublishOutcome(state=PublishState.PENDING, retry_in=retry_in)


def record_delete(*, member_id: int, collection: str, rkey: str, slot_at: float | None = None,
                  attempt: int = 1) -> PublishOutcome:
    """Delete one of the member's records (the row it mirrored is already gone)."""
    member = Member.objects.filter(pk=member_id).first()
    if member is None or collection not in atrecords.COLLECTIONS:
        return PublishOutcome(state="missing")
    chosen = _record_agent(member)
    if chosen is None:
        logger.info("record not deleted: no account", extra={"member": member_id, "collection": collection})
        return PublishOutcome(state=PublishState.FAILED)
    agent, account = chosen
    waiting = _paced(account, slot_at)
    if waiting is not None:
        return waiting
    result = agent.record_delete_for_member(member, collection=collection, rkey=rkey)
    if result.success:
        return PublishOutcome(state="deleted")
    retry_in = _after_failure(result, attempt=attempt, account=account)
    if retry_in is None:
        logger.info("record not deleted", extra={"member": member_id, "reason": result.reason})
        return PublishOutcome(state=PublishState.FAILED)
    return PublishOutcome(state=PublishState.PENDING, retry_in=retry_in)
