"""The host's questions to the people who answer an event, and the answers they give.

The host or a co-host adds up to QUESTIONS_MAX questions. A member's answers arrive with their
answer (the page, the API: `elonara.answers.answer_take` calls `answers_take` here, so a required
question is enforced in one place whatever the door) and can be changed until the event starts.
A record written in another app cannot carry our questions: its answer is taken and marked
`questions_missing`, and the host can ask those members by mail to answer here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Event, EventQuestion
from elonara.selectors import event_can_manage
from members.models import Member

# Sent once the host asked guests who answered elsewhere to answer the questions here
# (notifications mails each of them a link).
questions_asked = Signal()  # kwargs: event, member_ids

K = EventQuestion.Kind
QUESTIONS_MAX = 10
CHOICES_MAX = 20
TEXT_MAX = {K.SHORT: 200, K.LONG: 2000}
# Answering asks the questions: "going", which may wait for a seat or for the host's approval.
ASKING = (RSVP.Status.GOING,)
STARTED_REFUSAL = "The event has started: answers to its questions can no longer be changed."


def event_questions(*, event: Event) -> list[EventQuestion]:
    return list(EventQuestion.objects.filter(event=event))


@transaction.atomic
def question_add(*, event: Event, actor: Member, kind: str, label: str, choices: list[str] | None = None,
                 required: bool = False) -> EventQuestion:
    """Add a question at the end. One and several choices need two choices at least."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can change the questions."))
    # Lock the event: two hosts adding at once must not pass the limit together.
    current = Event.objects.select_for_update().get(pk=event.pk)
    if kind not in K.values:
        raise InvalidInputError(gettext("Choose a kind of question."), field="kind")
    label = " ".join(label.split())
    if not label:
        raise InvalidInputError(gettext("Write the question."), field="label")
    if len(label) > 300:
        raise InvalidInputError(gettext("Keep the question under 300 characters."), field="label")
    cleaned = [" ".join(c.split()) for c in (choices or [])]
    cleaned = list(dict.fromkeys(c for c in cleaned if c))  # blank lines and repeats dropped
    if kind in (K.ONE, K.MANY):
        if len(cleaned) < 2:
            raise InvalidInputError(gettext("Give at least two choices, one a line."), field="choices")
        if len(cleaned) > CHOICES_MAX or any(len(c) > 200 for c in cleaned):
            raise InvalidInputError(f"Give at most {CHOICES_MAX} choices of up to 200 characters.", field="choices")
    else:
        cleaned = []
    count = EventQuestion.objects.filter(event=current).count()
    if count >= QUESTIONS_MAX:
        raise InvalidInputError(f"An event asks at most {QUESTIONS_MAX} questions.")
    last = EventQuestion.objects.filter(event=current).order_by("-position").values_list("position", flat=True).first()
    return EventQuestion.objects.create(event=current, kind=kind, label=label, choices=cleaned, required=required,
                                        position=(last or 0) + 1)


@transaction.atomic
def question_delete(*, event: Event, actor: Member, question_id: int) -> None:
    """Remove a question; the answers already given to it stay in the answers' rows but are no
    longer shown or exported."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can change the questions."))
    EventQuestion.objects.filter(event=event, pk=question_id).delete()


def _clean_one(question: EventQuestion, value: Any) -> Any:
    """One answer checked against its question; None when it is empty."""
    if question.kind == K.CHECKBOX:
        return True if value in (True, "true", "on", "1", "yes") else None
    if question.kind == K.MANY:
        values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        picked = [str(v) for v in values if str(v)]
        if any(v not in question.choices for v in picked):
            raise InvalidInputError(f"Choose among the choices given: {question.label}", field="answers")
        return [c for c in question.choices if c in picked] or None  # in the host's order, once each
    if not isinstance(value, str | type(None)):
        raise InvalidInputError(f"Answer with text: {question.label}", field="answers")
    text = (value or "").strip()
    if not text:
        return None
    if question.kind == K.ONE:
        if text not in question.choices:
            raise InvalidInputError(f"Choose one of the choices given: {question.label}", field="answers")
        return text
    if len(text) > TEXT_MAX[K(question.kind)]:
        raise InvalidInputError(f"Keep the answer under {TEXT_MAX[K(question.kind)]} characters: {question.label}",
                                field="answers")
    return text


def answers_clean(*, questions: list[EventQuestion], given: dict[str, Any]) -> dict[str, Any]:
    """The answers given, checked, keyed by question id (unknown ids ignored, empty ones dropped)."""
    cleaned: dict[str, Any] = {}
    for question in questions:
        value = _clean_one(question, given.get(str(question.pk)))
        if value is not None:
            cleaned[str(question.pk)] = value
    return cleaned


def unanswered_required(*, questions: list[EventQuestion], answers: dict[str, Any]) -> list[EventQuestion]:
    return [q for q in questions if q.required and str(q.pk) not in answers]


def answers_take(*, event: Event, rsvp: RSVP, status: str, given: dict[str, Any] | None,
                 from_network: bool) -> bool:
    """Called by `answer_take` under the event's lock, before the answer is saved: sets the
    row's answers (and `questions_missing`) and returns whether they changed. Refuses (page,
    API) a "going" that leaves a required question unanswered, and a change after the start.

    `given` None keeps the answers already held (an answer that only changes Going to Maybe)."""
    questions = event_questions(event=event)
    before = (dict(rsvp.question_answers), rsvp.questions_missing)
    if from_network:
        # The record cannot carry them: taken as it is, and marked for the host to see and ask.
        rsvp.questions_missing = bool(questions) and status in ASKING and bool(
            unanswered_required(questions=questions, answers=rsvp.question_answers) or not rsvp.question_answers)
        return (dict(rsvp.question_answers), rsvp.questions_missing) != before
    if not questions or status == RSVP.Status.NOT_GOING:
        return False
    answers = rsvp.question_answers if given is None else answers_clean(questions=questions, given=given)
    if answers != rsvp.question_answers and timezone.now() >= event.starts_at:
        raise NotAllowedError(STARTED_REFUSAL)
    if status in ASKING:
        missing = unanswered_required(questions=questions, answers=answers)
        if missing:
            raise InvalidInputError(f"Please answer: {missing[0].label}", field="answers")
    rsvp.question_answers = answers
    rsvp.questions_missing = False
    return (dict(rsvp.question_answers), rsvp.questions_missing) != before


def answer_text(question: EventQuestion, value: Any) -> str:
    """An answer as one line of text (the people page, the export)."""
    if value is None:
        return ""
    if question.kind == K.CHECKBOX:
        return "Yes" if value is True else ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def event_answers_rows(*, event: Event) -> tuple[list[EventQuestion], list[RSVP]]:
    """The questions and every answer that was asked them (going, maybe, waiting, requested)."""
    questions = event_questions(event=event)
    rsvps = list(RSVP.objects.select_related("member").filter(
        event=event, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE, RSVP.Status.WAITLISTED,
                                 RSVP.Status.REQUESTED]).exclude(member_id=event.host_id).order_by("status", "pk"))
    return questions, rsvps


def event_answers_export(*, event: Event) -> list[list[str]]:
    """The answers as table rows, a header first (the view makes the cells safe for spreadsheets)."""
    questions, rsvps = event_answers_rows(event=event)
    rows = [["Name", "Username", "Answer", *[q.label for q in questions]]]
    for rsvp in rsvps:
        if rsvp.questions_missing:
            cells = ["Answered elsewhere: questions not answered", *[""] * (len(questions) - 1)] if questions else []
        else:
            cells = [answer_text(q, rsvp.question_answers.get(str(q.pk))) for q in questions]
        rows.append([rsvp.member.name, rsvp.member.username, rsvp.get_status_display(), *cells])
    return rows


@transaction.atomic
def questions_ask_missing(*, event: Event, actor: Member) -> int:
    """Mail everyone marked "answered elsewhere: questions not answered" a link to answer here.
    Returns how many were asked (once per member and answer: asking again sends nothing new)."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can ask guests to answer."))
    if timezone.now() >= event.starts_at:
        raise NotAllowedError(STARTED_REFUSAL)
    member_ids = list(RSVP.objects.filter(event=event, questions_missing=True, status__in=ASKING)
                      .values_list("member_id", flat=True))
    transaction.on_commit(partial(questions_asked.send, sender=Event, event=event, member_ids=member_ids))
    return len(member_ids)
