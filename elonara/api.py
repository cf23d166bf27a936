"""DRF endpoints for events: the upcoming list and an event (read), answering, and hosting: seats,
the waiting list, co-hosts, "ask to join" requests (read to look, events to change). Thin adapters.

Who may do what is the services' rule, as on the pages: anyone reads an event; its host and
co-hosts see the waiting list and the requests and answer them; only the host adds co-hosts."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import kept_json_response
from core.api_schemas import ERROR
from core.page_cache import EVENT_LISTS, EVENT_LISTS_ID, EVENT_LISTS_SECONDS
from core.requests import MemberApiRequest
from elonara import announcements, checkin, questions, recurrence, selectors, services
from elonara import series as series_services
from elonara.errors import InvalidInputError
from elonara.models import RSVP, Event, EventQuestion, EventSeries
from members.models import Member


class EventSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The event's page, relative to the site.")
    # A plain string: a blank URL field would be described as "a URI or empty", which '' matches twice.
    online_url = serializers.CharField(read_only=True, help_text="The link for online events, or empty.")

    class Meta:
        model = Event
        fields = ["id", "title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url",
                  "status", "url", "capacity", "requires_approval", "series", "language"]

    def get_url(self, event: Event) -> str:
        return event.get_absolute_url()


_ANSWERS_HELP = ("Answers to the event's questions by question id (as a string): text for short and long "
                 "text, a choice for one choice, a list of choices for several, true for a ticked checkbox.")


class QuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EventQuestion.Kind.choices)
    # The API's own names: DRF's metaclass takes them as fields, though a Field has attributes of these names.
    label = serializers.CharField()  # type: ignore[assignment]
    choices = serializers.ListField(child=serializers.CharField())
    required = serializers.BooleanField()  # type: ignore[assignment]


class MemberRefSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()


class MyAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RSVP.Status.choices)
    waitlist_position = serializers.IntegerField(allow_null=True, help_text="Your place in line when waitlisted.")
    wanted_status = serializers.ChoiceField(choices=RSVP.Status.choices, allow_null=True,
                                            help_text="What you asked for while waitlisted or waiting for approval.")
    answers = serializers.DictField(child=serializers.JSONField(), help_text=_ANSWERS_HELP)
    questions_missing = serializers.BooleanField(
        help_text="You answered in another app, which could not carry the questions: answer them here.")


class AnnouncementSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[("none", "Not asked for"), ("pending", "Being posted"),
                                             ("posted", "Posted"), ("failed", "Not posted")],
                                    help_text="The announcement post Elonara writes from the host's account.")
    uri = serializers.CharField(help_text="The post's at:// address once posted, else empty.")
    reason = serializers.CharField(help_text="Why it was not posted (shown to the host and co-hosts), else empty.")


class EventDetailSerializer(EventSerializer):
    host = MemberRefSerializer()
    cohosts = MemberRefSerializer(many=True)
    seats_taken = serializers.IntegerField()
    my_answer = MyAnswerSerializer(allow_null=True, help_text="Your answer; null when you have none.")
    questions = QuestionSerializer(many=True, help_text="What the host asks when you answer going.")
    announcement = AnnouncementSerializer()

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "host", "cohosts", "seats_taken", "my_answer", "questions",
                  "announcement"]


class EventCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    time_zone = serializers.CharField(max_length=64, default="UTC")
    description = serializers.CharField(required=False, default="", allow_blank=True)
    venue = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    online_url = serializers.URLField(max_length=500, required=False, default="", allow_blank=True)
    capacity = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    requires_approval = serializers.BooleanField(required=False, default=False)
    announce = serializers.BooleanField(
        required=False, default=False,
        help_text="Post the event's announcement on Bluesky from your own account (connected, or your app "
                  "password), with its link card; its replies become the event's conversation. Refused when no "
                  "account of yours can post. Your choice is remembered as the box's default on the site.")
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False, default="", allow_blank=True,
                                       help_text="The language it is held in; empty: yours.")


class EventPagination(CursorPagination):
    """Soonest first, then by id: a stable order, so following `next` neither skips nor repeats
    an event while others are added."""

    ordering = ("starts_at", "id")
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict) -> dict:
        # OpenAPI 3.1 (JSON Schema) words for "a URL or null"; DRF's own uses 3.0's `nullable`.
        link = {"type": ["string", "null"], "format": "uri", "description": "null on the last (first) page."}
        return {"type": "object", "required": ["next", "previous", "results"],
                "properties": {"next": link, "previous": link, "results": schema}}


class EventListView(generics.ListAPIView):
    """Upcoming events (not ended yet), soonest first, a page at a time; POST publishes one."""

    serializer_class = EventSerializer
    pagination_class = EventPagination

    @property
    def token_permission(self) -> str:
        return "read" if self.request.method in permissions.SAFE_METHODS else "events"

    @extend_schema(request=EventCreateSerializer, responses={201: EventDetailSerializer})
    def post(self, request: MemberApiRequest) -> Response:
        data = EventCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        announce = fields.pop("announce")
        # Checked before anything is written: asked for, the post must be possible.
        if announce and (reason := announcements.announcement_unavailable_reason(host=request.user)):
            raise InvalidInputError(reason, field="announce")
        event = services.event_create(host=request.user, **fields)
        if not announcements.announcement_unavailable_reason(host=request.user):
            announcements.announcement_choose(event=event, host=request.user, wanted=announce)
        return Response(_event_detail(Event.objects.select_related("host").get(pk=event.pk), request.user),
                        status=201)

    def get_queryset(self):
        return selectors.event_list_upcoming_for_api()

    # The kept JSON itself, not a Response to render again (the mixin's stub says Response).
    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        # The same for every reader: cached per address (page, limit; the links in it are absolute).
        address = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()[:24]
        return kept_json_response(EVENT_LISTS, EVENT_LISTS_ID, lambda: (super(EventListView, self).list(request).data,
                                                                        EVENT_LISTS_SECONDS), part=f"v1:{address}")


class LegacyEventListView(APIView):
    """GET /api/events/ (unversioned, as before versions): the first 100 upcoming events as
    {"events": [...]}. /api/v1/events/ is paginated."""

    token_permission = "read"

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        def build() -> tuple[dict[str, Any], int]:
            events = selectors.event_list_upcoming_for_api().order_by("starts_at", "id")[:100]
            return {"events": EventSerializer(events, many=True).data}, EVENT_LISTS_SECONDS

        return kept_json_response(EVENT_LISTS, EVENT_LISTS_ID, build, part="legacy")


class RsvpSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(value, RSVP.Status(value).label) for value in RSVP.ANSWERS])
    answers = serializers.DictField(child=serializers.JSONField(), required=False, help_text=_ANSWERS_HELP +
                                    " Required questions must be answered to say going; left out, the answers "
                                    "already given are kept. They change only until the event starts.")


class LineEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The answer's id (approve or decline it with this).")
    member = MemberRefSerializer()
    status = serializers.ChoiceField(choices=RSVP.Status.choices)
    wanted_status = serializers.ChoiceField(choices=RSVP.Status.choices, allow_null=True)
    since = serializers.DateTimeField(allow_null=True)


class WaitlistSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    capacity = serializers.IntegerField(allow_null=True, help_text="Seat limit; null: none.")
    seats_taken = serializers.IntegerField()
    waitlist = LineEntrySerializer(many=True, help_text="First in line first.")


class RequestsSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    requests = LineEntrySerializer(many=True)


class RequestDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RSVP.Status.choices)
    waitlist_position = serializers.IntegerField(allow_null=True)


class CohostListSerializer(serializers.Serializer):
    cohosts = MemberRefSerializer(many=True)


class RsvpResultSerializer(serializers.Serializer):
    event = serializers.IntegerField(help_text="The event's id.")
    status = serializers.ChoiceField(choices=RSVP.Status.choices, help_text="Your answer as stored: "
                                     "`going` may come back `waitlisted` or `requested`.")
    waitlist_position = serializers.IntegerField(allow_null=True)
    answers = serializers.DictField(child=serializers.JSONField(), help_text=_ANSWERS_HELP)


class GuestAnswersSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The answer's id.")
    member = MemberRefSerializer()
    status = serializers.ChoiceField(choices=RSVP.Status.choices)
    answers = serializers.DictField(child=serializers.JSONField(), help_text=_ANSWERS_HELP)
    questions_missing = serializers.BooleanField(
        help_text="Answered in another app (which cannot carry the questions): questions not answered.")


class EventAnswersSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    questions = QuestionSerializer(many=True)
    answers = GuestAnswersSerializer(many=True)


def _question(q: EventQuestion) -> dict:
    return {"id": q.pk, "kind": q.kind, "label": q.label, "choices": q.choices, "required": q.required}


def _shown_answers(rsvp: RSVP, asked: list[EventQuestion]) -> dict:
    # Only the answers to questions still asked (a removed question's answers are not shown).
    return {str(q.pk): rsvp.question_answers[str(q.pk)] for q in asked if str(q.pk) in rsvp.question_answers}


class _ReadOrEvents:
    """GET needs a token's read permission; changes need events."""

    request: Any

    @property
    def token_permission(self) -> str:
        return "read" if self.request.method in permissions.SAFE_METHODS else "events"


def _member(member: Member) -> dict:
    return {"username": member.username, "name": member.name}


def _my_answer(event: Event, member, asked: list[EventQuestion]) -> dict | None:
    rsvp = selectors.rsvp_for(event=event, member=member)
    if rsvp is None:
        return None
    return {"status": rsvp.status, "waitlist_position": selectors.rsvp_waitlist_position(rsvp=rsvp),
            "wanted_status": rsvp.wanted_status or None,
            "answers": _shown_answers(rsvp, asked),
            "questions_missing": rsvp.questions_missing}


class EventDetailView(APIView):
    """The event with its seats, co-hosts and your answer."""

    token_permission = "read"

    @extend_schema(responses={200: EventDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        event = get_object_or_404(Event.objects.select_related("host"), pk=pk)
        return Response(_event_detail(event, request.user))


def _event_detail(event: Event, member) -> dict:
    data = EventSerializer(event).data
    cohosts = selectors.event_cohosts(event=event)
    data["host"] = _member(event.host)
    data["cohosts"] = [_member(m) for m in cohosts]
    data["seats_taken"] = selectors.event_seats_taken(event=event)
    asked = questions.event_questions(event=event)
    data["my_answer"] = _my_answer(event, member, asked)
    data["questions"] = [_question(q) for q in asked]
    # Why it failed is the hosts' business (the same rule as selectors.event_can_manage).
    manages = member.pk == event.host_id or any(m.pk == member.pk for m in cohosts)
    data["announcement"] = asdict(announcements.announcement_status(event=event, with_reason=manages))
    return data


def _managed_event(request: MemberApiRequest, pk: int) -> Event:
    event = get_object_or_404(Event, pk=pk)
    if not selectors.event_can_manage(event=event, member=request.user):
        from rest_framework.exceptions import PermissionDenied

        raise PermissionDenied("Only the host or a co-host can see this.")
    return event


def _line(rows) -> list[dict]:
    return [{"id": r.pk, "member": _member(r.member), "status": r.status, "wanted_status": r.wanted_status or None,
             "since": r.queued_at} for r in rows]


class EventWaitlistView(APIView):
    """The waiting list, first in line first (the host and co-hosts only)."""

    token_permission = "read"

    @extend_schema(responses={200: WaitlistSerializer})
    def get(self, request: MemberApiRequest, pk: int) -> Response:
        event = _managed_event(request, pk)
        return Response({"event": event.pk, "capacity": event.capacity,
                         "seats_taken": selectors.event_seats_taken(event=event),
                         "waitlist": _line(selectors.event_waitlist(event=event))})


class EventRequestsView(APIView):
    """"Ask to join" answers waiting for a decision (the host and co-hosts only)."""

    token_permission = "read"

    @extend_schema(responses={200: RequestsSerializer})
    def get(self, request: MemberApiRequest, pk: int) -> Response:
        event = _managed_event(request, pk)
        return Response({"event": event.pk, "requests": _line(selectors.event_requests(event=event))})


class EventRequestAnswerView(APIView):
    """Approve or decline an "ask to join" answer (the host and co-hosts only). Approved, it becomes
    `going`, or `waitlisted` when the event is full."""

    token_permission = "events"

    @extend_schema(request=None, responses={200: RequestDecisionSerializer})
    def post(self, request: MemberApiRequest, pk: int, rsvp_id: int, decision: str) -> Response:
        event = get_object_or_404(Event, pk=pk)
        act = services.rsvp_approve if decision == "approve" else services.rsvp_decline
        rsvp = act(event=event, actor=request.user, rsvp_id=rsvp_id)
        return Response({"id": rsvp.pk, "status": rsvp.status,
                         "waitlist_position": selectors.rsvp_waitlist_position(rsvp=rsvp)})


class CohostSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class EventCohostsView(_ReadOrEvents, APIView):
    """The event's co-hosts (anyone may read them: they are shown on the page); adding one is for
    the host only."""

    @extend_schema(responses={200: CohostListSerializer})
    def get(self, request: Request, pk: int) -> Response:
        event = get_object_or_404(Event, pk=pk)
        return Response({"cohosts": [_member(m) for m in selectors.event_cohosts(event=event)]})

    @extend_schema(request=CohostSerializer, responses={201: CohostListSerializer})
    def post(self, request: MemberApiRequest, pk: int) -> Response:
        event = get_object_or_404(Event, pk=pk)
        data = CohostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = get_object_or_404(Member, username=data.validated_data["username"].lstrip("@"), is_active=True)
        services.event_cohost_add(event=event, actor=request.user, member=member)
        return Response({"cohosts": [_member(m) for m in selectors.event_cohosts(event=event)]}, status=201)


class EventCohostView(APIView):
    """Remove a co-host (the host, or the co-host stepping down)."""

    token_permission = "events"

    @extend_schema(responses={204: None})
    def delete(self, request: MemberApiRequest, pk: int, username: str) -> Response:
        event = get_object_or_404(Event, pk=pk)
        member = get_object_or_404(Member, username=username)
        services.event_cohost_remove(event=event, actor=request.user, member=member)
        return Response(status=204)


class EventRsvpView(APIView):
    """Answer an event (going, maybe, not going); answering again replaces your answer. A full event
    puts a `going` on the waiting list; an "ask to join" event holds it for the hosts' decision.
    With your Bluesky account connected, the answer is also an RSVP record in your repository."""

    token_permission = "events"

    @extend_schema(request=RsvpSerializer, responses={200: RsvpResultSerializer})
    def post(self, request: MemberApiRequest, pk: int) -> Response:
        event = get_object_or_404(Event, pk=pk)
        data = RsvpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # An ElonaraError becomes its JSON answer in core.api (one mapping for every endpoint).
        rsvp = services.rsvp_set(event=event, member=request.user, status=data.validated_data["status"],
                                 answers=data.validated_data.get("answers"))
        # "going" may come back "waitlisted" (with a place in line) or "requested" (ask to join).
        return Response({"event": event.pk, "status": rsvp.status,
                         "waitlist_position": selectors.rsvp_waitlist_position(rsvp=rsvp),
                         "answers": _shown_answers(rsvp, questions.event_questions(event=event))})


class EventAnswersView(APIView):
    """The answers to the event's questions of everyone going, maybe, waiting or asking (the host
    and co-hosts only)."""

    token_permission = "read"

    @extend_schema(responses={200: EventAnswersSerializer})
    def get(self, request: MemberApiRequest, pk: int) -> Response:
        event = _managed_event(request, pk)
        asked, rsvps = questions.event_answers_rows(event=event)
        return Response({"event": event.pk, "questions": [_question(q) for q in asked],
                         "answers": [{"id": r.pk, "member": _member(r.member), "status": r.status,
                                      "answers": _shown_answers(r, asked), "questions_missing": r.questions_missing}
                                     for r in rsvps]})


class SeriesCreateSerializer(EventCreateSerializer):
    """An event's fields for its first occurrence, and the rule that repeats it."""

    kind = serializers.ChoiceField(choices=EventSeries.Kind.choices)
    rule = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    until_date = serializers.DateField(required=False, allow_null=True, default=None)
    count = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=500)
    announce = serializers.BooleanField(
        required=False, default=False,
        help_text="Post the announcement of the first occurrence on Bluesky from your own account (a series is "
                  "announced once). Refused when no account of yours can post.")


class SeriesOccurrenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Event.Status.choices)
    url = serializers.CharField()


class SeriesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=EventSeries.Kind.choices)
    rule = serializers.CharField(help_text="The RRULE (RFC 5545) for a custom rule, else empty.")
    description_of_rule = serializers.CharField(help_text="The rule in words.")
    until = serializers.DateField(allow_null=True)
    count = serializers.IntegerField(allow_null=True)
    time_zone = serializers.CharField()
    starts_at = serializers.DateTimeField(help_text="The first occurrence's start.")
    continued_by = serializers.IntegerField(allow_null=True, help_text="The series that replaced this one's future.")
    url = serializers.CharField()
    occurrences = SeriesOccurrenceSerializer(many=True, help_text="The next occurrences, soonest first.")


def _series_data(series: EventSeries) -> dict:
    zone = series.zone
    return {
        "id": series.pk, "title": series.title, "kind": series.kind, "rule": series.rule,
        "description_of_rule": recurrence.describe(series.kind, local_start=series.starts_at.astimezone(zone),
                                                   rule=series.rule),
        "until": series.until, "count": series.count, "time_zone": series.time_zone,
        "starts_at": series.starts_at, "continued_by": series.continued_by_id,
        "url": series.get_absolute_url(),
        "occurrences": [{"id": e.pk, "starts_at": e.starts_at, "status": e.status, "url": e.get_absolute_url()}
                        for e in selectors.series_occurrences_upcoming(series=series)],
    }


class SeriesCreateView(APIView):
    """Create a repeating event: its first occurrences are made at once, each an event of its own."""

    token_permission = "events"

    @extend_schema(request=SeriesCreateSerializer, responses={201: SeriesSerializer})
    def post(self, request: MemberApiRequest) -> Response:
        data = SeriesCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        announce = fields.pop("announce")
        if announce and (reason := announcements.announcement_unavailable_reason(host=request.user)):
            raise InvalidInputError(reason, field="announce")
        first = series_services.series_create(host=request.user, **fields)
        if not announcements.announcement_unavailable_reason(host=request.user):
            announcements.announcement_choose(event=first, host=request.user, wanted=announce)
        assert first.series is not None
        return Response(_series_data(first.series), status=201)


class SeriesDetailView(APIView):
    """A series: its rule and its next dates."""

    token_permission = "read"

    @extend_schema(responses={200: SeriesSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_series_data(get_object_or_404(EventSeries, pk=pk)))


class CheckinSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200, help_text="The ticket's code, as its QR code holds it.")


class CheckinResultSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The guest's name.")
    already = serializers.BooleanField(help_text="True when the guest was already checked in (nothing changed).")
    checked_in_at = serializers.DateTimeField(help_text="When the guest was first checked in.")
    checked_in = serializers.IntegerField(help_text="Guests going who are checked in.")
    going = serializers.IntegerField(help_text="Guests going.")


class EventCheckinView(APIView):
    """Check a guest in at the door with their ticket's code (the host and co-hosts). A second
    check-in of the same ticket answers `already` with the first time; a code that is not ours,
    another event's, or of a guest no longer going is refused (409, `checkin_refused`)."""

    token_permission = "events"

    @extend_schema(request=CheckinSerializer, responses={
        200: CheckinResultSerializer,
        409: OpenApiResponse(ERROR, description="Refused: forged code, another event's, not going, cancelled."),
    })
    def post(self, request: MemberApiRequest, pk: int) -> Response:
        event = get_object_or_404(Event, pk=pk)
        data = CheckinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = checkin.checkin_take(event=event, actor=request.user, code=data.validated_data["code"])
        counts = checkin.checkin_counts(event=event)
        return Response({"name": result.name, "already": result.already, "checked_in_at": result.checked_in_at,
                         "checked_in": counts.checked_in, "going": counts.going})
