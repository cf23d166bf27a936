"""The DRF API: each app contributes its routes under /api/."""

from django.urls import include, path

urlpatterns = [
    path("bluesky/", include("bluesky.api_urls")),
    path("invitations/", include("invitations.api_urls")),
]
