"""The host's figures for an event: how their invitations did, batch by batch (invited,
delivered, landing page opened, answered Going / Maybe / Not going), and where every answer came
from (a Bluesky invitation, a shared link, a feed, other apps). Read from the rows only, so the
numbers match what the people page lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils.translation import gettext

from bluesky.models import BlueskyIdentity, BlueskySignIn
from elonara.models import RSVP, Event, ExternalRSVP
from invitations.models import Invitation

S = Invitation.Status
ANSWERS = (RSVP.Status.GOING, RSVP.Status.MAYBE, RSVP.Status.NOT_GOING)
# What counts as delivered: the invitation post exists (accepted or declined ones were, too).
DELIVERED = (S.SENT, S.ACCEPTED, S.DECLINED)


@dataclass(frozen=True)
class Funnel:
    label: str
    invited: int
    delivered: int
    opened: int
    going: int
    maybe: int
    not_going: int

    @property
    def answered(self) -> int:
        return self.going + self.maybe + self.not_going


@dataclass(frozen=True)
class DoorRow:
    label: str
    going: int
    maybe: int
    not_going: int

    @property
    def total(self) -> int:
        return self.going + self.maybe + self.not_going


@dataclass
class EventFigures:
    total: Funnel | None
    batches: list[Funnel] = field(default_factory=list)
    doors: list[DoorRow] = field(default_factory=list)

    @property
    def answers(self) -> int:
        return sum(row.total for row in self.doors)


def _funnel(label: str, row: dict[str, int]) -> Funnel:
    return Funnel(label=label, invited=row["invited"], delivered=row["delivered"], opened=row["opened"],
                  going=row["going"], maybe=row["maybe"], not_going=row["not_going"])


def event_figures(*, event: Event) -> EventFigures:
    """A few queries whatever the numbers. An invitation counts as answered with the answer its
    invitee (the member holding the invited Bluesky account) gives this event now, whichever way
    they answered: "Not going" is an answer too."""
    rows = list(Invitation.objects.filter(event=event).values_list(
        "batch_id", "batch__created_at", "recipient_did", "status", "opened_at").order_by("batch_id", "pk"))
    batches: list[Funnel] = []
    if rows:
        answer_by_did = _answers_by_did(event=event, dids={row[2] for row in rows})
        created: dict[int, datetime] = {}
        counted: dict[int, dict[str, int]] = {}
        for batch_id, batch_created_at, did, status, opened_at in rows:
            created[batch_id] = batch_created_at
            row = counted.setdefault(batch_id, dict.fromkeys(
                ("invited", "delivered", "opened", "going", "maybe", "not_going"), 0))
            row["invited"] += 1
            row["delivered"] += status in DELIVERED
            row["opened"] += opened_at is not None
            if (answer := answer_by_did.get(did)) is not None:
                row[answer] += 1
        for batch_id, row in counted.items():
            when = created.get(batch_id)
            batches.append(_funnel(gettext("Batch of %(when)s UTC") % {"when": f"{when:%d %b %Y, %H:%M}"} if when
                                   else gettext("Batch"), row))
    total = None
    if batches:
        total = Funnel(label=gettext("All invitations"), **{name: sum(getattr(b, name) for b in batches) for name in (
            "invited", "delivered", "opened", "going", "maybe", "not_going")})
    return EventFigures(total=total, batches=batches, doors=_doors(event=event))


def _answers_by_did(*, event: Event, dids: set[str]) -> dict[str, str]:
    """The answer to this event of each invited account that is a member's (connected or signed up)."""
    member_of: dict[int, str] = {}
    for model in (BlueskySignIn, BlueskyIdentity):
        member_of.update({member_id: did for did, member_id in
                          model.objects.filter(did__in=dids).values_list("did", "member_id")})
    answers = RSVP.objects.filter(event=event, member_id__in=list(member_of), status__in=ANSWERS)
    return {member_of[member_id]: status for member_id, status in answers.values_list("member_id", "status")}


def _doors(*, event: Event) -> list[DoorRow]:
    counts: dict[str, dict[str, int]] = {}
    for came_by, status, n in (RSVP.objects.filter(event=event, status__in=ANSWERS)
                               .values_list("came_by", "status").annotate(n=Count("pk")).order_by()):
        counts.setdefault(came_by, {}).update({status: n})
    # Answers written in other apps by people who are not members here join the members' ones.
    outside = {RSVP.Status.GOING: ExternalRSVP.Status.GOING, RSVP.Status.MAYBE: ExternalRSVP.Status.INTERESTED,
               RSVP.Status.NOT_GOING: ExternalRSVP.Status.NOT_GOING}
    for status, n in (ExternalRSVP.objects.filter(event=event).values_list("status").annotate(n=Count("pk"))
                      .order_by()):
        ours = next(k for k, v in outside.items() if v == status)
        row = counts.setdefault(RSVP.CameBy.OTHER_APP, {})
        row[ours] = row.get(ours, 0) + n
    labels = [*((value, str(label)) for value, label in RSVP.CameBy.choices),
              ("", gettext("Not recorded (earlier answers)"))]
    return [DoorRow(label=label, going=counts[value].get(RSVP.Status.GOING, 0),
                    maybe=counts[value].get(RSVP.Status.MAYBE, 0),
                    not_going=counts[value].get(RSVP.Status.NOT_GOING, 0))
            for value, label in labels if value in counts]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float
    kind: str


BAR_HEIGHT = 28
BAR_GAP = 10
CHART_WIDTH = 600
LABEL_WIDTH = 170
VALUE_ROOM = 50


def chart_bars(*, items: list[tuple[str, int, str]]) -> tuple[list[Bar], int]:
    """Horizontal bars for a server-drawn SVG chart, scaled to the largest value; returns the bars
    and the chart's height. `items`: (label, value, kind), kind naming the colour class."""
    top = max((value for _label, value, _kind in items), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - VALUE_ROOM
    bars = [Bar(label=label, value=value, y=i * (BAR_HEIGHT + BAR_GAP), kind=kind,
                width=round(room * value / top, 1)) for i, (label, value, kind) in enumerate(items)]
    return bars, max(len(items) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, BAR_HEIGHT)


def funnel_bars(funnel: Funnel) -> tuple[list[Bar], int]:
    return chart_bars(items=[(gettext("Invited"), funnel.invited, "sent"),
                             (gettext("Delivered"), funnel.delivered, "sent"),
                             (gettext("Opened the page"), funnel.opened, "sent"),
                             (gettext("Going"), funnel.going, "going"), (gettext("Maybe"), funnel.maybe, "maybe"),
                             (gettext("Not going"), funnel.not_going, "no")])
