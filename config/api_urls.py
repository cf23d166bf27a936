"""The DRF API: each app contributes its routes under /api/."""

from django.urls import include, path

from elonara.api import (
    EventCohostsView,
    EventCohostView,
    EventDetailView,
    EventListView,
    EventRequestAnswerView,
    EventRequestsView,
    EventRsvpView,
    EventWaitlistView,
    SeriesCreateView,
    SeriesDetailView,
)
from members.api import TokenExchangeView

urlpatterns = [
    path("auth/token/", TokenExchangeView.as_view(), name="api-token-exchange"),
    path("events/", EventListView.as_view(), name="api-events"),
    path("events/<int:pk>/", EventDetailView.as_view(), name="api-event"),
    path("series/", SeriesCreateView.as_view(), name="api-series-create"),
    path("series/<int:pk>/", SeriesDetailView.as_view(), name="api-series"),
    path("events/<int:pk>/rsvp/", EventRsvpView.as_view(), name="api-event-rsvp"),
    path("events/<int:pk>/waitlist/", EventWaitlistView.as_view(), name="api-event-waitlist"),
    path("events/<int:pk>/requests/", EventRequestsView.as_view(), name="api-event-requests"),
    path("events/<int:pk>/requests/<int:rsvp_id>/approve/", EventRequestAnswerView.as_view(),
         {"decision": "approve"}, name="api-event-request-approve"),
    path("events/<int:pk>/requests/<int:rsvp_id>/decline/", EventRequestAnswerView.as_view(),
         {"decision": "decline"}, name="api-event-request-decline"),
    path("events/<int:pk>/cohosts/", EventCohostsView.as_view(), name="api-event-cohosts"),
    path("events/<int:pk>/cohosts/<str:username>/", EventCohostView.as_view(), name="api-event-cohost"),
    path("bluesky/", include("bluesky.api_urls")),
    path("invitations/", include("invitations.api_urls")),
]
