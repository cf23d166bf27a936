"""Services: events and RSVPs published as records in their authors' own repositories.

The flow: a write service (event_create/update/cancel, rsvp_set) calls `*_publish_queue` inside its
transaction. That marks the row pending, fixes its record key before the first write (so a retried
attempt overwrites, never duplicates) and asks the write pipeline (`bluesky.pipeline`) for a
write. Each attempt is `event_publish` / `rsvp_publish`: load, pace, compose, write, settle,
through the member's own credentials (OAuth grant or their app password, never the relay); the
pipeline keeps any wait as a due time in the database and runs each attempt once.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from bluesky import pipeline
from bluesky.errors import Reason
from bluesky.models import RecordWrite
from bluesky.pipeline import Outcome
from bluesky.records import tid_now
from elonara import atrecords
from elonara.errors import NotAllowedError
from elonara.models import RSVP, Event, PublishState
from members.models import Member

logger = logging.getLogger(__name__)

EVENT_NOT_PUBLISHED = "The event is not published on Bluesky."


# --- queueing (called inside the caller's transaction) -----------------------------------------

def event_publish_queue(*, event: Event) -> bool:
    """Mark the event's record pending and ask for its write. False: the host has no Bluesky
    account to publish with (nothing is queued; a record written earlier is kept in sync as soon as
    the host connects again and edits)."""
    if pipeline.record_agent_for(event.host) is None:
        return False
    rkey = event.at_rkey or tid_now()
    Event.objects.filter(pk=event.pk).update(at_rkey=rkey, publish_state=PublishState.PENDING, publish_error="")
    event.at_rkey, event.publish_state, event.publish_error = rkey, PublishState.PENDING, ""
    pipeline.record_write_queue(kind=RecordWrite.Kind.EVENT, member_id=event.host_id, object_id=event.pk)
    return True


def host_can_publish(*, host: Member) -> bool:
    """Whether the host has an account of their own to write event records with."""
    return pipeline.record_agent_for(host) is not None


@transaction.atomic
def event_publish_again(*, event: Event, actor: Member) -> bool:
    """The host asks to (re)publish now: after a failure, or after connecting Bluesky."""
    if event.host_id != actor.pk:
        raise NotAllowedError(gettext("Only the host can publish this event."))
    Event.objects.filter(pk=event.pk).update(publish_attempts=0)
    return event_publish_queue(event=event)


def rsvp_publish_queue(*, rsvp: RSVP) -> bool:
    """Same for a member's answer (only when the event itself is or is being published)."""
    event = rsvp.event
    if not event.at_rkey or pipeline.record_agent_for(rsvp.member) is None:
        return False
    RSVP.objects.filter(pk=rsvp.pk).update(publish_state=PublishState.PENDING, publish_error="")
    rsvp.publish_state, rsvp.publish_error = PublishState.PENDING, ""
    pipeline.record_write_queue(kind=RecordWrite.Kind.RSVP, member_id=rsvp.member_id, object_id=rsvp.pk)
    return True


def record_delete_queue(*, member: Member, collection: str, rkey: str) -> None:
    """Delete a record of `member`'s (an event deleted here, or an RSVP with it)."""
    pipeline.record_write_queue(kind=RecordWrite.Kind.DELETE, member_id=member.pk, collection=collection, rkey=rkey)


# --- one attempt each: load, pace, compose, write, settle ---------------------------------------

def event_publish(*, event_id: int, slot_at: float | None = None) -> Outcome:
    """Write the event's record as the event is now. Safe to run any number of times."""
    event = Event.objects.select_related("host").filter(pk=event_id).first()
    if event is None or not event.at_rkey:
        return Outcome.done("missing")
    chosen = pipeline.record_agent_for(event.host)
    if chosen is None:
        return _event_failed(event_id, Outcome.failed(Reason.NOT_CONNECTED, "No Bluesky account to publish with."))
    agent, account = chosen
    waiting = pipeline.pace(account_key=account.key, slot_at=slot_at, state=PublishState.PENDING)
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
        # Published only if nobody edited the event meanwhile: otherwise the edit asked for another
        # write, which writes the newer version (this one must not hide it as "published").
        Event.objects.filter(pk=event_id, updated_at=seen).update(
            publish_state=PublishState.PUBLISHED, publish_error="", publish_attempts=0)
        _queue_waiting_rsvps(event_id=event_id)
        return Outcome.done(PublishState.PUBLISHED)
    outcome = pipeline.after_failure(result, attempt=attempt, account_key=account.key, state=PublishState.PENDING)
    if outcome.kind == "failed":
        return _event_failed(event_id, outcome)
    Event.objects.filter(pk=event_id).update(publish_error=outcome.message[:300])
    return outcome


def _event_failed(event_id: int, outcome: Outcome) -> Outcome:
    Event.objects.filter(pk=event_id).update(publish_state=PublishState.FAILED, publish_error=outcome.message[:300])
    # Answers waiting for this event's first record cannot be written either.
    RSVP.objects.filter(event_id=event_id, publish_state=PublishState.PENDING, at_uri="").update(
        publish_state=PublishState.NONE, publish_error=EVENT_NOT_PUBLISHED)
    logger.info("event record not published", extra={"event": event_id, "reason": outcome.reason})
    return outcome.with_state(PublishState.FAILED)


def _queue_waiting_rsvps(*, event_id: int) -> None:
    """RSVPs given before the event's first record existed: write them now."""
    for rsvp in RSVP.objects.select_related("event", "member").filter(
            event_id=event_id, publish_state=PublishState.PENDING, at_uri=""):
        with transaction.atomic():
            rsvp_publish_queue(rsvp=rsvp)


def rsvp_publish(*, rsvp_id: int, slot_at: float | None = None) -> Outcome:
    """Write the member's answer as their RSVP record (one fixed key per event)."""
    rsvp = RSVP.objects.select_related("event", "member").filter(pk=rsvp_id).first()
    if rsvp is None:
        return Outcome.done("missing")
    if rsvp.status not in RSVP.ANSWERS:
        # Waiting for a seat or an approval since this was queued: nothing to write until then.
        kept = PublishState.PUBLISHED if rsvp.at_uri else PublishState.NONE
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=kept)
        return Outcome.done(PublishState.NONE)
    event = rsvp.event
    if not event.at_uri or not event.at_cid:
        if event.publish_state == PublishState.PENDING:
            # The event's record is being written: its success asks for this write again (and its
            # failure says why this one cannot be written).
            return Outcome.done(PublishState.PENDING)
        RSVP.objects.filter(pk=rsvp_id).update(publish_state=PublishState.NONE, publish_error=EVENT_NOT_PUBLISHED)
        return Outcome.done(PublishState.NONE)
    rkey = rsvp.at_rkey or atrecords.rsvp_rkey(member_id=rsvp.member_id, event_uri=event.at_uri)
    return pipeline.member_record_put(
        rows=RSVP.objects.all(), row=rsvp, member=rsvp.member, collection=atrecords.RSVP_NSID, rkey=rkey,
        record=lambda: atrecords.rsvp_record(rsvp=rsvp, event_uri=event.at_uri, event_cid=event.at_cid,
                                             created_at=rsvp.updated_at),
        managed_keys=atrecords.RSVP_KEYS, slot_at=slot_at)


def record_delete(*, member_id: int, collection: str, rkey: str, slot_at: float | None = None) -> Outcome:
    """One attempt to delete one of the member's calendar records (the pipeline's own deletion)."""
    if collection not in atrecords.COLLECTIONS:
        return Outcome.done("missing")
    return pipeline.record_delete(member_id=member_id, collection=collection, rkey=rkey, slot_at=slot_at)


# --- the pipeline's writers for our kinds ------------------------------------------------------

def _event_writer(job: RecordWrite) -> Outcome:
    return event_publish(event_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job))


def _rsvp_writer(job: RecordWrite) -> Outcome:
    return rsvp_publish(rsvp_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job))


def register_writers() -> None:
    """Called once by the app's ready(): event and RSVP record writes run through the pipeline."""
    pipeline.register_writer(RecordWrite.Kind.EVENT, _event_writer)
    pipeline.register_writer(RecordWrite.Kind.RSVP, _rsvp_writer)
