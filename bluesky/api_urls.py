from django.urls import path

from bluesky.api import IdentityView

urlpatterns = [
    path("identity/", IdentityView.as_view(), name="bluesky-identity-api"),
]
