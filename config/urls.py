from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("readyz/worker", health.readyz_worker, name="readyz-worker"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("members/", include("members.urls")),
    path("bluesky/agents/", include("bluesky.agents.urls")),
    path("bluesky/", include("bluesky.urls")),
    path("invitations/", include("invitations.urls")),
    path("api/", include("config.api_urls")),
    path("", include("elonara.urls")),
]
