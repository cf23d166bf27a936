"""The DRF API: version 1 under /api/v1/ (each app contributes its routes), its OpenAPI schema
(/api/schema/) and documentation (/api/docs/), and the unversioned /api/... aliases, which answer
as they did before versions existed (see config/openapi.py)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.openapi import api_description
from elonara.api import (
    EventAnswersView,
    EventCheckinView,
    EventCohostsView,
    EventCohostView,
    EventDetailView,
    EventListView,
    EventRequestAnswerView,
    EventRequestsView,
    EventRsvpView,
    EventWaitlistView,
    LegacyEventListView,
    SeriesCreateView,
    SeriesDetailView,
)
from members.api import TokenExchangeView


def _routes(event_list_view) -> list:
    return [
        path("auth/token/", TokenExchangeView.as_view(), name="api-token-exchange"),
        path("events/", event_list_view.as_view(), name="api-events"),
        path("events/<int:pk>/", EventDetailView.as_view(), name="api-event"),
        path("series/", SeriesCreateView.as_view(), name="api-series-create"),
        path("series/<int:pk>/", SeriesDetailView.as_view(), name="api-series"),
        path("events/<int:pk>/rsvp/", EventRsvpView.as_view(), name="api-event-rsvp"),
        path("events/<int:pk>/waitlist/", EventWaitlistView.as_view(), name="api-event-waitlist"),
        path("events/<int:pk>/requests/", EventRequestsView.as_view(), name="api-event-requests"),
        path("events/<int:pk>/answers/", EventAnswersView.as_view(), name="api-event-answers"),
        path("events/<int:pk>/requests/<int:rsvp_id>/approve/", EventRequestAnswerView.as_view(),
             {"decision": "approve"}, name="api-event-request-approve"),
        path("events/<int:pk>/requests/<int:rsvp_id>/decline/", EventRequestAnswerView.as_view(),
             {"decision": "decline"}, name="api-event-request-decline"),
        path("events/<int:pk>/cohosts/", EventCohostsView.as_view(), name="api-event-cohosts"),
        path("events/<int:pk>/checkins/", EventCheckinView.as_view(), name="api-event-checkins"),
        path("events/<int:pk>/cohosts/<str:username>/", EventCohostView.as_view(), name="api-event-cohost"),
        path("bluesky/", include("bluesky.api_urls")),
        path("invitations/", include("invitations.api_urls")),
    ]


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(custom_settings={"DESCRIPTION": api_description()}),
         name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/", include(_routes(EventListView))),
    # Names live in the "unversioned" namespace: reverse("api-events") gives the /api/v1/ address.
    path("", include((_routes(LegacyEventListView), "unversioned"))),
]
