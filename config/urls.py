import re

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import include, path, re_path

from config import health
from core.media import media_serve
from members.views import language_set


def moved(new_prefix: str):
    """Pages that moved (`bluesky.agents` joining the `bluesky` app, the firehose cursor joining
    `network`): 308 keeps the method, so old bookmarks and forms still land where they meant to."""

    def view(request: HttpRequest, rest: str) -> HttpResponseRedirect:
        query = request.META.get("QUERY_STRING", "")
        response = HttpResponseRedirect(new_prefix + rest + (f"?{query}" if query else ""))
        response.status_code = 308
        return response

    return view


urlpatterns = [
    re_path(r"^admin/bluesky_agents/(?P<rest>.*)$", moved("/admin/bluesky/")),
    re_path(r"^bluesky/agents/(?P<rest>.*)$", moved("/bluesky/")),
    # The firehose cursor moved from elonara to network (its admin pages with it).
    re_path(r"^admin/elonara/firehosecursor/(?P<rest>.*)$", moved("/admin/network/firehosecursor/")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("readyz/worker", health.readyz_worker, name="readyz-worker"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("language", language_set, name="language"),
    path("members/", include("pages.member_urls")),
    path("bluesky/", include("bluesky.urls")),
    path("invitations/", include("invitations.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/", include("config.api_urls")),
    path("", include("feeds.urls")),
    path("", include("pages.urls")),
    path("", include("network.urls")),
    path("", include("elonara.urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded covers from MEDIA_ROOT: on by default with local files (`make run`, `make serve`,
    # the systemd units on one machine). Object storage serves its own URLs (see README).
    prefix = settings.MEDIA_URL.lstrip("/")
    if prefix and "://" not in settings.MEDIA_URL:
        media = re_path(rf"^{re.escape(prefix)}(?P<path>.*)$", media_serve)
        urlpatterns.insert(0, media)
handler500 = "core.pages.server_error"
