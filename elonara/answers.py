"""What an answer to one of our events becomes: the one place that writes an RSVP's status.

An answer reaches us through four doors: the event page, the API, a member's own
community.lexicon.calendar.rsvp record written in another app (read from the firehose) and the
outside answers adopted when their author joins. Each calls `answer_take`, which locks the event
row and applies the same rules (ask to join, declined stays declined, the seat limit, the waiting
list in arrival order), so the same answer gives the same outcome whatever the door. The host's
decisions (approve, decline) and the waiting list's promotions live here too:
`tests/elonara/test_answers_doors.py` fails when a status is written anywhere else.

When a record in the member's repository asks for more than the rules give ("going" on an
event that approves requests), our row says what the rules decided and keeps what the record
said in `network_status`, so the member's panel can tell them why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from core import metrics
from core.tasks import task_on_commit
from elonara import atrecords, publishing, questions
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, CommunityBlock, Event, EventCohost, PublishState
from elonara.selectors import event_can_manage, event_seats_taken
from members.models import Member

S = RSVP.Status

# Sent once the transaction commits, with the RSVP as it now is and what happened to it
# (`change`: one of CHANGES). Invitations and mail listen.
rsvp_changed = Signal()  # kwargs: rsvp, change
CHANGES = ("answered", "waitlisted", "requested", "promoted", "approved", "declined", "removed")


class Door(StrEnum):
    PAGE = "page"
    API = "api"
    NETWORK = "network"  # the member's own record, written in another app
    ADOPTED = "adopted"  # an outside answer whose author just joined
    HOST = "host"  # the host's own seat, given with the event (never refused, never published)


# The host holds a seat at their own event (as on Luma or Meetup): they are going from the moment
# it exists and cannot answer otherwise while they host it (cancelling is how a host stays away).
HOST_REFUSAL = "You host this event."


@dataclass(frozen=True)
class Decision:
    status: str
    # The answer kept for when the host approves (requests only).
    wanted: str = ""


def answer_decide(*, wanted: str, before: str, approved: bool, requires_approval: bool,
                  seats_left: int | None) -> Decision:
    """The rules, with no I/O: what `wanted` becomes for a member whose answer was `before`.

    `seats_left` is None without a seat limit. A declined request stays declined whatever is
    asked (a "not going" then "going" must not put a fresh request before the host again)."""
    if before == S.DECLINED:
        return Decision(S.DECLINED)
    if wanted == S.NOT_GOING:
        return Decision(S.NOT_GOING)
    if requires_approval and not approved:
        return Decision(S.REQUESTED, wanted=wanted)
    if wanted == S.GOING and before == S.WAITLISTED:
        return Decision(S.WAITLISTED)  # still in line: keeps its place
    if wanted == S.GOING and before != S.GOING and seats_left is not None and seats_left <= 0:
        return Decision(S.WAITLISTED)
    return Decision(wanted)


def _came_by(*, door: Door, via: str) -> str:
    """Where a first answer came from, for the host's figures (RSVP.CameBy)."""
    if door in (Door.NETWORK, Door.ADOPTED):
        return RSVP.CameBy.OTHER_APP
    if door == Door.API:
        return RSVP.CameBy.API
    if door == Door.HOST:
        return RSVP.CameBy.HOST
    return via if via in (RSVP.CameBy.INVITATION, RSVP.CameBy.FEED) else RSVP.CameBy.LINK


def _event_lock(*, event_id: int) -> Event:
    # Every change to who holds a seat locks the event row first: answers to one event are taken
    # one at a time, whatever their door, so two concurrent "going" never both take the last seat.
    return Event.objects.select_for_update().get(pk=event_id)


def _seats_left(*, event: Event) -> int | None:
    """Seats still free (None: no limit). Read under the event's lock."""
    return None if event.capacity is None else event.capacity - event_seats_taken(event=event)


def _after_answer(*, rsvp: RSVP, publish: bool, change: str) -> None:
    """What follows any change of an answer: its record (when it is one to publish), the counts,
    the listeners (mail, invitations) once committed."""
    if publish:
        publishing.rsvp_publish_queue(rsvp=rsvp)
    task_on_commit("elonara.tasks.event_refresh_counts", rsvp.event_id)
    transaction.on_commit(partial(rsvp_changed.send, sender=RSVP, rsvp=rsvp, change=change))


def _is_blocked(*, event: Event, member_id: int) -> bool:
    return event.community_id is not None and CommunityBlock.objects.filter(
        community_id=event.community_id, member_id=member_id).exists()


def _is_manager(*, event: Event, member_id: int) -> bool:
    return event.host_id == member_id or EventCohost.objects.filter(event=event, member_id=member_id).exists()


@transaction.atomic
def answer_take(*, event: Event, member: Member, status: str, door: Door,
                record: dict[str, Any] | None = None, answers: dict[str, Any] | None = None,
                via: str = "") -> RSVP | None:
    """Record or change a member's answer by the event's rules, whatever door it came through.

    The page and the API are refused with a message (cancelled, blocked, declined). An answer
    read from the network (`Door.NETWORK`, `Door.ADOPTED`) is never refused: where the rules
    give nothing it changes nothing (None, counted), and where they give less than it asked our
    row holds what they gave. `record` holds fields of the member's record already in their
    repository saying this answer (adopted, or ours changed in another app): it becomes this
    answer's record instead of one written again. `via` names where a page answer came from
    ("invitation", "feed"), kept with a first answer for the host's figures.
    """
    if status not in RSVP.ANSWERS:
        raise InvalidInputError(gettext("Choose going, maybe or not going."), field="status")
    from_network = door in (Door.NETWORK, Door.ADOPTED)
    if member.pk == event.host_id:
        return _host_answer(event=event, member=member, status=status, door=door)
    # Read from the database, not the caller's copy: the host may have just cancelled it.
    current = _event_lock(event_id=event.pk)
    rsvp = RSVP.objects.filter(event=current, member=member).first()
    before = rsvp.status if rsvp is not None else ""
    refusal = _refusal(event=current, member=member, before=before, status=status, from_network=from_network)
    if refusal:
        metrics.answer_taken(door, "ignored")
        if from_network:
            return None
        raise NotAllowedError(refusal)
    if rsvp is None:
        rsvp = RSVP(event=current, member=member, came_by=_came_by(door=door, via=via))
    rsvp.event = current
    # Before anything is decided or written: a refusal here leaves the answer as it was.
    answers_changed = questions.answers_take(event=current, rsvp=rsvp, status=status, given=answers,
                                             from_network=from_network)
    decision = answer_decide(
        wanted=status, before=before, requires_approval=current.requires_approval,
        seats_left=_seats_left(event=current),
        approved=rsvp.approved_at is not None or _is_manager(event=current, member_id=member.pk))
    final = decision.status
    network_status = status if from_network and final != status else ""
    metrics.answer_taken(door, final)
    retry = rsvp.publish_state == PublishState.FAILED  # the same answer again after a failed write
    if final == before and rsvp.pk is not None and rsvp.network_status == network_status and (
            final != S.REQUESTED or rsvp.wanted_status == decision.wanted) and not retry and not answers_changed:
        return rsvp  # nothing changes (the same answer again, a record echoing what we hold)
    adopted = _answer_save(rsvp=rsvp, decision=decision, before=before, network_status=network_status, record=record)
    _answer_followed_up(rsvp=rsvp, event=current, decision=decision, before=before,
                        publish=final in RSVP.ANSWERS and not adopted and (final != before or retry))
    return rsvp


def _refusal(*, event: Event, member: Member, before: str, status: str, from_network: bool) -> str:
    """Why this answer cannot be taken at all (empty: it can)."""
    if event.status == Event.Status.CANCELLED:
        return gettext("This event is cancelled.")
    if _is_blocked(event=event, member_id=member.pk):
        return gettext("You cannot answer events of this community.")
    if before == S.DECLINED and not from_network and status != S.NOT_GOING:
        return gettext("The host declined your request to join this event.")
    return ""


def _answer_save(*, rsvp: RSVP, decision: Decision, before: str, network_status: str,
                 record: dict[str, Any] | None) -> bool:
    """The decided answer on the row, saved. True when it adopts a record already in the member's
    repository (`record`), which is then not written again."""
    final = decision.status
    if final in (S.WAITLISTED, S.REQUESTED):
        if before != final:
            rsvp.queued_at = timezone.now()
    else:
        rsvp.queued_at = None
    rsvp.wanted_status = decision.wanted
    rsvp.network_status = network_status
    rsvp.status = final
    adopted = record is not None and final in RSVP.ANSWERS
    if adopted and record is not None:
        for field, value in record.items():
            setattr(rsvp, field, value)
    rsvp.save()
    return adopted


def _answer_followed_up(*, rsvp: RSVP, event: Event, decision: Decision, before: str, publish: bool) -> None:
    """What a saved answer sets off: its record written (waiting for a seat or for approval is not
    an answer to publish: the record is written once the member has the seat or the approval),
    the mail and counts, and a seat freed for the next in line."""
    final = decision.status
    change = "answered"
    if final in (S.WAITLISTED, S.REQUESTED) and before != final:
        change = "waitlisted" if final == S.WAITLISTED else "requested"
    if final != before or publish:
        _after_answer(rsvp=rsvp, publish=publish, change=change)
    else:
        task_on_commit("elonara.tasks.event_refresh_counts", rsvp.event_id)
    if before == S.GOING and final != S.GOING:
        _waitlist_promote(event=event)


def _host_answer(*, event: Event, member: Member, status: str, door: Door) -> RSVP | None:
    """The host's own answer: going, whatever the seats or approval (they manage the event).

    Silent: the event's record already says who hosts it, so no RSVP record is written to their
    repository, and no confirmation is mailed (notifications skips the host's own); the reminder
    still comes, as to anyone going. Anything but "going" is refused at the page and the API and
    ignored from the network: a host stays away by cancelling the event."""
    if status != S.GOING:
        metrics.answer_taken(door, "ignored")
        if door in (Door.NETWORK, Door.ADOPTED):
            return None
        raise NotAllowedError(HOST_REFUSAL)
    current = _event_lock(event_id=event.pk)
    rsvp = RSVP.objects.filter(event=current, member=member).first()
    metrics.answer_taken(door, S.GOING)
    if rsvp is not None and rsvp.status == S.GOING:
        return rsvp
    if rsvp is None:
        rsvp = RSVP(event=current, member=member, came_by=RSVP.CameBy.HOST)
    rsvp.status, rsvp.wanted_status, rsvp.network_status, rsvp.queued_at = S.GOING, "", "", None
    rsvp.save()
    rsvp.event = current
    _after_answer(rsvp=rsvp, publish=False, change="answered")
    return rsvp


def _waitlist_promote(*, event: Event) -> list[RSVP]:
    """Give free seats to the waiting list, first in line first."""
    current = _event_lock(event_id=event.pk)
    promoted: list[RSVP] = []
    line = RSVP.objects.select_related("member").filter(event=current, status=S.WAITLISTED)
    free = _seats_left(event=current)
    if free is not None and free <= 0:
        return promoted
    for rsvp in line.order_by("queued_at", "pk")[:free]:
        rsvp.status, rsvp.queued_at, rsvp.promoted_at = S.GOING, None, timezone.now()
        rsvp.network_status = ""
        rsvp.save(update_fields=["status", "queued_at", "promoted_at", "network_status", "updated_at"])
        rsvp.event = current
        promoted.append(rsvp)
        _after_answer(rsvp=rsvp, publish=True, change="promoted")
    return promoted


@transaction.atomic
def event_waitlist_promote(*, event_id: int) -> list[RSVP]:
    """Fill seats freed outside an answer here (an outside answer changed, a row was deleted)."""
    event = Event.objects.filter(pk=event_id).first()
    return [] if event is None else _waitlist_promote(event=event)


@transaction.atomic
def rsvp_remove(*, event: Event, actor: Member, rsvp_id: int) -> RSVP:
    """The host or a co-host removes someone going, waiting or asking: they are declined (an
    answer from any door cannot bring them back), their published record is withdrawn, and a seat
    they held goes to the first in line."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can remove people."))
    current = _event_lock(event_id=event.pk)
    rsvp = RSVP.objects.select_related("member").filter(pk=rsvp_id, event=current).first()
    if rsvp is None or rsvp.status in (S.NOT_GOING, S.DECLINED) or _is_manager(event=current, member_id=rsvp.member_id):
        raise InvalidInputError(gettext("This person is not among those going, waiting or asking."))
    before = rsvp.status
    if rsvp.at_rkey and rsvp.publish_state:
        publishing.record_delete_queue(member=rsvp.member, collection=atrecords.RSVP_NSID, rkey=rsvp.at_rkey)
    rsvp.status, rsvp.wanted_status, rsvp.queued_at, rsvp.network_status = S.DECLINED, "", None, ""
    rsvp.at_uri, rsvp.at_cid, rsvp.publish_state = "", "", PublishState.NONE
    rsvp.save()
    rsvp.event = current
    _after_answer(rsvp=rsvp, publish=False, change="removed")
    if before == S.GOING:
        _waitlist_promote(event=current)
    return rsvp


def _request_get(*, event: Event, actor: Member, rsvp_id: int) -> tuple[Event, RSVP]:
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can answer requests."))
    current = _event_lock(event_id=event.pk)
    rsvp = RSVP.objects.select_related("member").filter(pk=rsvp_id, event=current).first()
    if rsvp is None or rsvp.status != S.REQUESTED:
        raise InvalidInputError(gettext("This request was already answered or withdrawn."))
    rsvp.event = current
    return current, rsvp


@transaction.atomic
def rsvp_approve(*, event: Event, actor: Member, rsvp_id: int) -> RSVP:
    """Approve an "ask to join" answer: it becomes the answer asked for (the waiting list when
    the seats are taken) and, only now, is published as the member's RSVP record."""
    current, rsvp = _request_get(event=event, actor=actor, rsvp_id=rsvp_id)
    wanted = rsvp.wanted_status or S.GOING
    rsvp.approved_at = timezone.now()
    seats_left = _seats_left(event=current)
    decision = answer_decide(wanted=wanted, before=S.REQUESTED, approved=True, requires_approval=True,
                             seats_left=seats_left)
    rsvp.status = decision.status
    rsvp.queued_at = timezone.now() if decision.status == S.WAITLISTED else None
    rsvp.wanted_status = ""
    rsvp.network_status = ""
    rsvp.save()
    _after_answer(rsvp=rsvp, publish=rsvp.status in RSVP.ANSWERS, change="approved")
    return rsvp


@transaction.atomic
def rsvp_decline(*, event: Event, actor: Member, rsvp_id: int) -> RSVP:
    """Decline an "ask to join" answer. Nothing was published for it, so nothing is withdrawn."""
    _current, rsvp = _request_get(event=event, actor=actor, rsvp_id=rsvp_id)
    rsvp.status, rsvp.wanted_status, rsvp.queued_at, rsvp.network_status = S.DECLINED, "", None, ""
    rsvp.save()
    _after_answer(rsvp=rsvp, publish=False, change="declined")
    return rsvp

