"""Check-in at the door: the one place that decides whether a ticket lets someone in.

The host and co-hosts check guests in from a phone, by scanning a ticket's QR code or by picking
a name; both doors call `checkin_take`, which checks the code's signature on the server (never
trusting the scanning page), refuses a forged code or another event's, and writes one `Checkin`
per answer: a second scan finds the first and says when it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext

from core import metrics
from elonara.errors import ElonaraError, NotAllowedError
from elonara.models import RSVP, Checkin, Event
from elonara.selectors import event_can_manage
from elonara.tickets import ticket_code, ticket_parse
from members.models import Member


class CheckinRefused(ElonaraError):
    """A code or a guest the door does not let in; `reason` says which (closed values)."""

    code = "checkin_refused"
    http_status = 409

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


FORGED = "This code is not a ticket of ours. Ask the guest for their name instead."
OTHER_EVENT = "This ticket is for another event."
NOT_GOING = "No guest going to this event holds this ticket (they may have changed their answer)."
CANCELLED = "This event is cancelled."


@dataclass(frozen=True)
class CheckinResult:
    rsvp: RSVP
    checked_in_at: datetime
    # True when this guest was already in: the door says when, and nothing is written.
    already: bool

    @property
    def name(self) -> str:
        return self.rsvp.member.name


@dataclass(frozen=True)
class CheckinCounts:
    checked_in: int
    going: int


def rsvp_ticket_code(*, rsvp: RSVP) -> str:
    return ticket_code(event_id=rsvp.event_id, rsvp_id=rsvp.pk)


def _rsvp_from_code(*, event: Event, code: str) -> int:
    ref = ticket_parse(code=code)
    if ref is None:
        raise CheckinRefused(FORGED, reason="forged")
    if ref.event_id != event.pk:
        raise CheckinRefused(OTHER_EVENT, reason="other_event")
    return ref.rsvp_id


def checkin_take(*, event: Event, actor: Member, code: str = "", rsvp_id: int | None = None) -> CheckinResult:
    """Let a going guest in once, by their ticket's code or (picked by name) their answer's id.

    Only the host and co-hosts check in. The signature is checked here, so a page or an app
    cannot vouch for a code; a code of another event is refused before any row is read. The
    answer must still be "going" now (an answer changed after the ticket was shown is refused).
    A second check-in returns the first one's time with `already` set."""
    try:
        result = _checkin_take(event=event, actor=actor, code=code, rsvp_id=rsvp_id)
    except CheckinRefused as refused:
        metrics.checkin_taken(refused.reason)
        raise
    metrics.checkin_taken("already" if result.already else "in")
    return result


@transaction.atomic
def _checkin_take(*, event: Event, actor: Member, code: str, rsvp_id: int | None) -> CheckinResult:
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can check guests in."))
    if event.is_cancelled:
        raise CheckinRefused(CANCELLED, reason="cancelled")
    if code:
        rsvp_id = _rsvp_from_code(event=event, code=code)
    if rsvp_id is None:
        raise CheckinRefused(NOT_GOING, reason="not_going")
    # Locked so two phones scanning the same ticket at once take turns: the second sees the first.
    rsvp = (RSVP.objects.select_for_update(of=("self",)).select_related("member")
            .filter(pk=rsvp_id, event_id=event.pk).first())
    if rsvp is None or rsvp.status != RSVP.Status.GOING:
        raise CheckinRefused(NOT_GOING, reason="not_going")
    existing = Checkin.objects.filter(rsvp=rsvp).first()
    if existing is not None:
        return CheckinResult(rsvp=rsvp, checked_in_at=existing.checked_in_at, already=True)
    now = timezone.now()
    try:
        with transaction.atomic():
            Checkin.objects.create(rsvp=rsvp, event_id=event.pk, checked_in_by=actor, checked_in_at=now)
    except IntegrityError:
        # Only without row locks (SQLite's file lock serializes anyway): the other writer won.
        first = Checkin.objects.get(rsvp=rsvp)
        return CheckinResult(rsvp=rsvp, checked_in_at=first.checked_in_at, already=True)
    return CheckinResult(rsvp=rsvp, checked_in_at=now, already=False)


def checkin_counts(*, event: Event) -> CheckinCounts:
    """Guests going and, of them, checked in (one query)."""
    row = RSVP.objects.filter(event_id=event.pk, status=RSVP.Status.GOING).aggregate(
        going=Count("pk"), checked_in=Count("checkin"))
    return CheckinCounts(checked_in=row["checked_in"], going=row["going"])


def checkin_search(*, event: Event, query: str, limit: int = 50) -> list[RSVP]:
    """Going guests whose name, username or Bluesky handle holds the words typed at the door,
    the not-yet-checked-in first, with their check-in (if any) read along."""
    rsvps = (RSVP.objects.filter(event_id=event.pk, status=RSVP.Status.GOING)
             .select_related("member", "member__bluesky_identity", "checkin"))
    for word in query.split()[:5]:
        word = word.lstrip("@")
        rsvps = rsvps.filter(Q(member__display_name__icontains=word) | Q(member__username__icontains=word)
                             | Q(member__bluesky_identity__handle__icontains=word))
    waiting_first = F("checkin__checked_in_at").asc(nulls_first=True)
    return list(rsvps.order_by(waiting_first, "member__display_name", "member__username", "pk")[:limit])
