"""The event page's part that is the same for every viewer, built once per change and cached:
the event with its host, community, series and conversation, the answers, the co-hosts, the seats
taken, and the HTML of the facts, the attendee lists and the replies. The view adds only what
depends on the viewer (their answer, the host's tools, an invitation banner) and the cover image
(whose address may be signed and expire).

Kept under a version renewed after every change that shows here (core.page_cache: saves and
deletes through elonara.signals, `update()` through the models' querysets).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.text import slugify

from core.page_cache import PAGE_CACHE_SECONDS, page_part_get
from elonara import ical, selectors
from elonara.community_page import CalendarFile
from elonara.models import RSVP, Event, EventCohost, EventQuestion, HostMessage
from members.models import Member


@dataclass
class EventPage:
    event: Event
    cohosts: list[Member]
    # Every member's answer by member id: the viewer's own is looked up here, with no query.
    answers: dict[int, RSVP]
    facts_html: SafeString
    about_html: SafeString
    # The same without names and faces: the counts, for viewers the host's guest-list choice leaves out.
    about_counts_html: SafeString
    replies_html: SafeString
    # The host's questions, asked in the answer form (elonara.questions).
    questions: list[EventQuestion]
    # "Updates from the host", newest first; the view shows each to the groups it was written to.
    host_messages: list[HostMessage]

    @property
    def cohost_ids(self) -> set[int]:
        return {c.pk for c in self.cohosts}


def event_page_get(*, event_id: int) -> EventPage | None:
    """The event's page part, from the cache when current (one round trip), else built from the
    database (six queries, seven with seats) and cached. None: no such event."""
    return page_part_get("event", event_id, lambda: (_event_page_build(event_id=event_id), PAGE_CACHE_SECONDS))


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


def _event_page_build(*, event_id: int) -> EventPage | None:
    event = (Event.objects.select_related("host", "community", "series", "conversation")
             .defer(*selectors.person_fields_not_shown("host")).filter(pk=event_id).first())
    if event is None:
        return None
    grouped = selectors.event_attendees_by_status(event=event)
    cohosts = [link.member for link in EventCohost.objects.filter(event=event).select_related("member")
               .defer(*selectors.person_fields_not_shown("member"))]
    outside = selectors.event_outside_rsvps_by_status(event=event)
    conversation = getattr(event, "conversation", None)
    context = {
        "event": event,
        "cohosts": cohosts,
        "seats_taken": selectors.event_seats_taken(event=event) if event.capacity else None,
        "attendees": grouped,
        "outside_rsvps": outside,
        # The firehose keeps at most this many per event (elonara.firehose): say so when full.
        "outside_rsvps_full": sum(map(len, outside.values())) >= settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT,
        "outside_rsvps_cap": settings.ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT,
        "conversation": conversation,
    }
    return EventPage(
        event=event, cohosts=cohosts, answers={a.member_id: a for answers in grouped.values() for a in answers},
        facts_html=render_to_string("elonara/_event_facts.html", context),
        about_html=render_to_string("elonara/_event_about.html", {**context, "show_names": True}),
        about_counts_html=render_to_string("elonara/_event_about.html", {**context, "show_names": False}),
        replies_html=render_to_string("elonara/_event_replies.html", context) if conversation else SafeString(),
        questions=list(EventQuestion.objects.filter(event=event)),
        host_messages=list(HostMessage.objects.filter(event=event).select_related("author")
                           .defer(*selectors.person_fields_not_shown("author"))),
    )
