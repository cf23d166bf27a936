from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import include, path, re_path


def moved(new_prefix: str):
    """Pages that moved when `bluesky.agents` joined the `bluesky` app: 308 keeps the method, so old
    bookmarks and forms still land where they meant to."""

    def view(request: HttpRequest, rest: str) -> HttpResponseRedirect:
        query = request.META.get("QUERY_STRING", "")
        response = HttpResponseRedirect(new_prefix + rest + (f"?{query}" if query else ""))
        response.status_code = 308
        return response

    return view


urlpatterns = [
    re_path(r"^admin/bluesky_agents/(?P<rest>.*)$", moved("/admin/bluesky/")),
    re_path(r"^bluesky/agents/(?P<rest>.*)$", moved("/bluesky/")),
    path("admin/", admin.site.urls),
    path("members/", include("members.urls")),
    path("bluesky/", include("bluesky.urls")),
    path("invitations/", include("invitations.urls")),
    path("api/", include("config.api_urls")),
    path("", include("elonara.urls")),
]
