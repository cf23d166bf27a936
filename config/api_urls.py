"""The DRF API: each app contributes its routes under /api/."""

from django.urls import include, path

from elonara.api import EventListView, EventRsvpView
from members.api import TokenExchangeView

urlpatterns = [
    path("auth/token/", TokenExchangeView.as_view(), name="api-token-exchange"),
    path("events/", EventListView.as_view(), name="api-events"),
    path("events/<int:pk>/rsvp/", EventRsvpView.as_view(), name="api-event-rsvp"),
    path("bluesky/", include("bluesky.api_urls")),
    path("invitations/", include("invitations.api_urls")),
]
