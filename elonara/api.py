"""DRF endpoints for events: the upcoming list (read) and answering (events). Thin adapters."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from elonara import selectors, services
from elonara.models import RSVP, Event


class EventSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "title", "description", "starts_at", "ends_at", "time_zone", "venue", "online_url",
                  "status", "url"]

    def get_url(self, event: Event) -> str:
        return event.get_absolute_url()


class EventListView(APIView):
    """GET /api/events/ -> upcoming events, soonest first."""

    token_permission = "read"

    def get(self, request: Request) -> Response:
        return Response({"events": EventSerializer(selectors.event_list_upcoming(limit=100), many=True).data})


class RsvpSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RSVP.Status.choices)


class EventRsvpView(APIView):
    """POST /api/events/<pk>/rsvp/ {"status": "going" | "maybe" | "not_going"}"""

    token_permission = "events"

    def post(self, request: Request, pk: int) -> Response:
        event = get_object_or_404(Event, pk=pk)
        data = RsvpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # An ElonaraError becomes its JSON answer in core.api (one mapping for every endpoint).
        rsvp = services.rsvp_set(event=event, member=request.user, status=data.validated_data["status"])
        return Response({"event": event.pk, "status": rsvp.status})
