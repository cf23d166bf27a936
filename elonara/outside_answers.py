"""Records about our events read back from the network: the network's firehose router
(network.firehose) hands elonara the operations that are its own, and the rules for them live here.

- our own records (an event, a member's answer) read back: echoes, or changed or deleted in another app;
- an answer to one of our events written in another app: a member's answer by the rules
  (elonara.answers), or an outside answer (`ExternalRSVP`) shown on the event page;
- outside answers adopted when their account becomes a member's, and their handles looked up.

Called inside the consumer's transaction for the frame; re-applying an operation changes nothing
(rows keyed by record URI, older sequence numbers ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bluesky import clients
from bluesky.atproto import AtprotoError
from bluesky.atproto.firehose import RecordOp
from bluesky.atproto.identity import is_valid_did
from bluesky.lexicon import record_problems
from bluesky.records import is_valid_rkey
from bluesky.selectors import member_id_for_did
from core import metrics
from core.tasks import task_on_commit
from elonara import answers, atrecords
from elonara.models import RSVP, Event, ExternalRSVP, PublishState
from members.models import Member

HANDLE_TTL = timedelta(hours=24)


def own_event_record_apply(*, event: Event, op: RecordOp) -> None:
    """Our record of `event` read back: our own write echoing, or changed or deleted in another app."""
    if op.action == "delete":
        Event.objects.filter(pk=event.pk).update(
            at_uri="", at_cid="", publish_state=PublishState.FAILED,
            publish_error="The record was deleted outside Elonara; edit the event to publish it again.")
    elif op.cid and op.cid != event.at_cid:
        # Changed in another app: remember its version (RSVPs point at it; our next update merges).
        Event.objects.filter(pk=event.pk).update(at_cid=op.cid)


def own_answer_record_apply(*, own: RSVP, op: RecordOp) -> None:
    """Our record of a member's answer, read back: our own write echoing, or changed or deleted in
    another app (the member's answer follows, by the rules, without writing back)."""
    if op.action == "delete":
        # Deleted in another app: no longer on the network (the answer here stays).
        RSVP.objects.filter(pk=own.pk).update(at_uri="", at_cid="", publish_state=PublishState.NONE)
        return
    if not op.cid or op.cid == own.at_cid or op.record is None:
        return
    RSVP.objects.filter(pk=own.pk).update(at_cid=op.cid)
    status = atrecords.rsvp_status_from_record(op.record.get("status"))
    member = Member.objects.filter(pk=own.member_id).first()
    if status and member is not None:
        answers.answer_take(event=own.event, member=member, status=status, door=answers.Door.NETWORK,
                            record={"at_cid": op.cid})


def answer_record_apply(*, op: RecordOp) -> list[int]:
    """An rsvp record of another repository that is (or was) about one of our events: a member's
    answer, an outside one kept, or one that stopped being an answer removed.

    Returns the ids of outside answers whose handle a worker looks up."""
    if not is_valid_did(op.repo) or not is_valid_rkey(op.rkey):
        return []  # untrusted input: the relay's repo field ends up in a link on the event page
    existing = ExternalRSVP.objects.filter(uri=op.uri).first()
    if existing is not None and existing.seq >= op.seq:
        return []  # a replayed frame (restart from an older cursor)
    answer = _answer_of(op) if op.action != "delete" else None
    member_id = member_id_for_did(did=op.repo) if answer is not None else None
    if answer is not None and member_id is None:
        return _outside_answer_keep(op=op, event=answer[0], status=answer[1], existing=existing)
    # Deleted, not (or no longer) an answer to one of our events, or a member's: not an outside one.
    if existing is not None:
        existing.delete()
    if answer is not None and member_id is not None:
        _member_answer_from_network(event=answer[0], member_id=member_id, record=op.record or {})
    return []


def _answer_of(op: RecordOp) -> tuple[Event, str] | None:
    """The event of ours a valid rsvp record answers, and its outside status; None otherwise."""
    record = op.record
    if not isinstance(record, dict) or record_problems(atrecords.RSVP_NSID, record):
        return None
    status = atrecords.external_status(record.get("status"))
    subject = record.get("subject")
    uri = subject.get("uri") if isinstance(subject, dict) else None
    event = Event.objects.filter(at_uri=uri).first() if status and uri else None
    return (event, status) if event is not None and status else None


def _outside_answer_keep(*, op: RecordOp, event: Event, status: str, existing: ExternalRSVP | None) -> list[int]:
    # One outside answer per account and event: another record of theirs about the same event
    # replaces it when newer (an account writing 150 records is one name on the page, not 150).
    same_account = ExternalRSVP.objects.filter(event=event, did=op.repo)
    if existing is not None:
        same_account = same_account.exclude(pk=existing.pk)
    other = same_account.first()
    if other is not None:
        if other.seq > op.seq:
            if existing is not None:
                existing.delete()
            return []  # an older record of theirs: the newer answer stays
        if existing is not None:
            other.delete()
        else:
            existing = other
    if existing is None:
        if ExternalRSVP.objects.filter(event=event).count() >= settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT:
            metrics.outside_rsvp_refused()
            return []  # untrusted input: the rows kept per event are bounded
        # A lookup of this account made lately is reused, a failed one too (it stays failed for
        # HANDLE_TTL: ten records of an unresolvable account are not ten lookups).
        checked = (ExternalRSVP.objects.filter(did=op.repo, handle_checked_at__gt=timezone.now() - HANDLE_TTL)
                   .values_list("handle", "handle_checked_at").first())
        row = ExternalRSVP.objects.create(event=event, did=op.repo, handle=checked[0] if checked else "",
                                          status=status, uri=op.uri, cid=op.cid or "", seq=op.seq,
                                          handle_checked_at=checked[1] if checked else None)
        return [] if checked else [row.pk]
    ExternalRSVP.objects.filter(pk=existing.pk).update(event=event, status=status, uri=op.uri, cid=op.cid or "",
                                                       seq=op.seq, updated_at=timezone.now())
    return []


def _member_answer_from_network(*, event: Event, member_id: int, record: dict) -> None:
    """A member answered in another app: that is their answer here too, by the same rules as the
    page (elonara.answers); our own record of what the rules gave follows, so apps agree."""
    status = atrecords.rsvp_status_from_record(record.get("status"))
    member = Member.objects.filter(pk=member_id).first()
    if status is not None and member is not None:
        answers.answer_take(event=event, member=member, status=status, door=answers.Door.NETWORK)


_MEMBER_STATUS: dict[str, str] = {
    ExternalRSVP.Status.GOING: RSVP.Status.GOING, ExternalRSVP.Status.INTERESTED: RSVP.Status.MAYBE,
    ExternalRSVP.Status.NOT_GOING: RSVP.Status.NOT_GOING}


@transaction.atomic
def outside_answers_adopt(*, did: str, member_id: int) -> int:
    """The DID just became a member's (sign-up, sign-in, connect): its outside answers become that
    member's answers, by the event's rules (elonara.answers), so the page stops listing them under
    "not members here". Their record stays the one in their repository (adopted, not written
    again). An answer the member already gave here is kept unless the outside one is newer.
    Returns how many outside answers were folded in."""
    outside = list(ExternalRSVP.objects.select_for_update().filter(did=did).select_related("event"))
    member = Member.objects.filter(pk=member_id).first()
    for row in outside:
        status = _MEMBER_STATUS.get(row.status)
        rsvp = RSVP.objects.filter(event=row.event, member_id=member_id).first()
        ours = row.uri.startswith(f"at://{did}/{atrecords.RSVP_NSID}/")
        row.delete()  # first: an outside "going" taking a seat must not keep its author off it
        if member is not None and status is not None and ours and (rsvp is None or row.updated_at > rsvp.updated_at):
            record = None if rsvp is not None and rsvp.at_uri else {
                "at_uri": row.uri, "at_cid": row.cid, "at_rkey": row.uri.rsplit("/", 1)[-1], "at_repo_did": did,
                "publish_state": PublishState.PUBLISHED, "publish_error": "", "published_at": row.updated_at}
            answers.answer_take(event=row.event, member=member, status=status, door=answers.Door.ADOPTED,
                                record=record)
        task_on_commit("elonara.tasks.event_refresh_counts", row.event_id)
    return len(outside)


def outside_rsvp_handles_resolve(*, ids: Iterable[int]) -> None:
    """Look up the handles of outside RSVPs' accounts (verified both ways; cached on the rows, a
    failure as an empty handle checked now). Run by a worker (elonara.tasks)."""
    resolver = clients.identity_resolver()
    recent = timezone.now() - HANDLE_TTL
    done: set[str] = set()
    for row in ExternalRSVP.objects.filter(pk__in=list(ids)):
        if row.did in done or (row.handle_checked_at is not None and row.handle_checked_at > recent):
            continue  # several ids of one account, or a lookup another task just made
        done.add(row.did)
        try:
            identity = resolver.resolve(row.did)
        except AtprotoError:
            handle = ""
        else:
            handle = identity.handle if identity.handle_verified else ""
        ExternalRSVP.objects.filter(did=row.did).update(handle=handle, handle_checked_at=timezone.now())
