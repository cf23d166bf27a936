"""The event page's part that is the same for every viewer, built once per change and cached:
the event with its host, community, series and conversation, the answers, the co-hosts, the seats
taken, and the HTML of the facts, the attendee lists and the replies. The view adds only what
depends on the viewer (their answer, the host's tools, an invitation banner) and the cover image
(whose address may be signed and expire).

Kept under a version renewed after every change that shows here (core.page_cache: saves and
deletes through elonara.signals, `update()` through the models' querysets).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.text import slugify

from bluesky.graph import HIDDEN_ACCOUNTS_SECONDS, BlueskyGraphService
from core.page_cache import PAGE_CACHE_SECONDS, page_part_get
from elonara import ical, selectors
from elonara.community_page import CalendarFile
from elonara.models import (
    RSVP,
    Event,
    EventCohost,
    EventConversation,
    EventQuestion,
    ExternalRSVP,
    HostMessage,
)
from elonara.selectors import AnswerRow
from members.models import Member


@dataclass
class EventPage:
    event: Event
    cohosts: list[Member]
    # Every member's answer by member id (plain rows, cheap to keep): the viewer's own is looked
    # up here, with no query (`answer_for`).
    answers: dict[int, AnswerRow]
    facts_html: SafeString
    about_html: SafeString
    # The same without names and faces: the counts, for viewers the host's guest-list choice leaves out.
    about_counts_html: SafeString
    replies_html: SafeString
    # The host's questions, asked in the answer form (elonara.questions).
    questions: list[EventQuestion]
    # "Updates from the host", newest first; the view shows each to the groups it was written to.
    host_messages: list[HostMessage]
    # Answers from other apps by status: the attendee lists are drawn again without a viewer's blocks.
    outside: dict[str, list[ExternalRSVP]] = field(default_factory=dict)

    @property
    def cohost_ids(self) -> set[int]:
        return {c.pk for c in self.cohosts}

    def answer_for(self, member_id: int | None) -> RSVP | None:
        """The member's own answer, read-only, for their answer panel."""
        row = self.answers.get(member_id) if member_id is not None else None
        return row.as_rsvp() if row is not None else None

    def answer_dids(self, *, viewer_id: int | None) -> set[str]:
        """The Bluesky accounts of those listed as answering, the host's and the viewer's own left
        out (the host is named all over the page; nobody blocks themselves)."""
        dids = {r.did for rows in self.outside.values() for r in rows}
        for member_id, row in self.answers.items():
            if member_id not in (self.event.host_id, viewer_id):
                dids.update(d for d in (row.identity_did, row.app_password_did) if d)
        return dids

    def about_html_without(self, *, dids: Collection[str]) -> SafeString:
        """The about part with the answers of these accounts left out: drawn for one viewer, never
        kept in the part every viewer shares."""
        hidden = set(dids)
        grouped: dict[str, list[AnswerRow]] = {status: [] for status in RSVP.Status.values}
        for row in self.answers.values():  # in the shared lists' order (the host first among going)
            if not hidden & {row.identity_did, row.app_password_did}:
                grouped[row.status].append(row)
        outside = {status: [r for r in rows if r.did not in hidden] for status, rows in self.outside.items()}
        kept = sum(map(len, self.outside.values()))
        return render_to_string("elonara/_event_about.html",
                                {**_about_context(self.event, grouped, outside, kept=kept), "show_names": True})


def event_page_get(*, event_id: int) -> EventPage | None:
    """The event's page part, from the cache when current (one round trip), else built from the
    database (six queries, seven with seats) and cached. None: no such event."""
    return page_part_get("event", event_id, lambda: (_event_page_build(event_id=event_id), PAGE_CACHE_SECONDS))


def event_answers_blocked_for(*, page: EventPage, member: Member) -> tuple[set[str], int | None]:
    """The accounts answering this event that the signed-in `member` blocks on Bluesky (their own
    blocks, read with their own session and kept a few minutes: bluesky.graph), whose answers are
    then not listed to them; and how many seconds that stays true (None: nothing was asked). Asked
    only when someone other than the host and the member answered with a Bluesky account."""
    if not member.is_authenticated:
        return set(), None
    dids = page.answer_dids(viewer_id=member.pk)
    if not dids:
        return set(), None
    hidden = BlueskyGraphService().hidden_accounts(member=member)
    return {did for did in dids if hidden.get(did) == "block"}, HIDDEN_ACCOUNTS_SECONDS


def event_calendar_get(*, event_id: int) -> CalendarFile | None:
    """The event's "Add to calendar" file (its `slug`: the file's name), renewed with its page."""
    return page_part_get("event", event_id, lambda: (_event_calendar_build(event_id=event_id), PAGE_CACHE_SECONDS),
                         part="ics")


def _event_calendar_build(*, event_id: int) -> CalendarFile | None:
    event = Event.objects.select_related("host").filter(pk=event_id).first()
    if event is None:
        return None
    return CalendarFile.of(slug=f"{slugify(event.title)[:60] or 'event'}-{event.pk}", body=ical.event_ics(event=event),
                           events=[event])


# What an event may have, each asked in the event's own query (one bit each): most events have
# none of them, and a query that finds nothing costs as much as one that finds something.
_HAS = {"conversation": EventConversation, "cohosts": EventCohost, "questions": EventQuestion,
        "messages": HostMessage, "outside": ExternalRSVP}


def _has_flags() -> RawSQL:
    # Raw SQL because Django's Exists() per relation cost a millisecond more to compile than the
    # query takes; CASE WHEN EXISTS works alike on PostgreSQL and SQLite. Only our table names in it.
    event_id = f'"{Event._meta.db_table}"."id"'
    tables = [model._meta.db_table for model in _HAS.values()]
    bits = [f'(CASE WHEN EXISTS (SELECT 1 FROM "{table}" WHERE "{table}"."event_id" = {event_id}) '  # noqa: S608
            f"THEN {bit} ELSE 0 END)" for bit, table in zip(_BIT.values(), tables, strict=True)]
    return RawSQL(" + ".join(bits), (), output_field=IntegerField())  # noqa: S611 - no outside text in it


_BIT = {what: 1 << i for i, what in enumerate(_HAS)}


def _has(event: Event, what: str) -> bool:
    flags: int = cast(Any, event).has_flags  # the annotation of _event_page_build's query
    return bool(flags & _BIT[what])


def _event_page_build(*, event_id: int) -> EventPage | None:
    event = (Event.objects.select_related("host", "community").defer(*selectors.person_fields_not_shown("host"))
             .annotate(has_flags=_has_flags()).filter(pk=event_id).first())
    if event is None:
        return None
    # Kept on the event as select_related would (None when there is none): the page reads it often.
    Event.conversation.related.set_cached_value(
        event, EventConversation.objects.filter(event=event).first() if _has(event, "conversation") else None)
    grouped = selectors.event_attendees_by_status(event=event)
    cohosts = [link.member for link in EventCohost.objects.filter(event=event).select_related("member")
               .defer(*selectors.person_fields_not_shown("member"))] if _has(event, "cohosts") else []
    outside = (selectors.event_outside_rsvps_by_status(event=event) if _has(event, "outside")
               else {status: [] for status in ExternalRSVP.Status.values})
    conversation = getattr(event, "conversation", None)
    context = {
        **_about_context(event, grouped, outside, kept=sum(map(len, outside.values()))),
        "cohosts": cohosts,
        "seats_taken": selectors.event_seats_taken(event=event) if event.capacity else None,
        "conversation": conversation,
    }
    return EventPage(
        event=event, cohosts=cohosts, answers={a.member_id: a for answers in grouped.values() for a in answers},
        facts_html=render_to_string("elonara/_event_facts.html", context),
        about_html=render_to_string("elonara/_event_about.html", {**context, "show_names": True}),
        # Only for viewers the host's guest-list choice leaves out: none when the list is public.
        about_counts_html=(render_to_string("elonara/_event_about.html", {**context, "show_names": False})
                           if event.guest_list != Event.GuestList.PUBLIC else SafeString()),
        replies_html=render_to_string("elonara/_event_replies.html", context) if conversation else SafeString(),
        questions=list(EventQuestion.objects.filter(event=event)) if _has(event, "questions") else [],
        host_messages=list(HostMessage.objects.filter(event=event).select_related("author")
                           .defer(*selectors.person_fields_not_shown("author"))) if _has(event, "messages") else [],
        outside=outside,
    )


def _about_context(event: Event, grouped: dict[str, list[AnswerRow]], outside: dict[str, list[ExternalRSVP]], *,
                   kept: int) -> dict:
    """What the about part shows. `kept`: how many outside answers the event keeps (all of them,
    also those a viewer does not see)."""
    return {
        "event": event,
        "attendees": grouped,
        "outside_rsvps": outside,
        # The firehose keeps at most this many per event (elonara.firehose): say so when full.
        "outside_rsvps_full": kept >= settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT,
        "outside_rsvps_cap": settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT,
    }
