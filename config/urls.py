import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("members/", include("members.urls")),
    path("bluesky/agents/", include("bluesky.agents.urls")),
    path("bluesky/", include("bluesky.urls")),
    path("invitations/", include("invitations.urls")),
    path("api/", include("config.api_urls")),
    path("", include("elonara.urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded covers from MEDIA_ROOT (development, small sites). Production normally serves them
    # from the web server or the storage backend's own URLs instead (see README).
    prefix = settings.MEDIA_URL.lstrip("/")
    if prefix and "://" not in settings.MEDIA_URL:
        media = re_path(rf"^{re.escape(prefix)}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
        urlpatterns.insert(0, media)
