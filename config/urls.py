from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("members/", include("members.urls")),
    path("bluesky/agents/", include("bluesky.agents.urls")),
    path("bluesky/", include("bluesky.urls")),
    path("invitations/", include("invitations.urls")),
    path("api/", include("config.api_urls")),
    path("", include("elonara.urls")),
]
