"""Template context every page gets."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest
from django.urls import reverse


@cache
def _site_urls() -> dict[str, str]:
    # The header's and footer's links, on every page: reversed once per process (the URLconf does
    # not change while it runs), not nine times per request.
    names = {"home": "home", "communities": "community-list", "upcoming": "network:upcoming",
             "event_create": "event-create", "logout": "members:logout", "login": "members:login",
             "signup": "members:signup", "terms": "terms", "privacy": "privacy", "language": "language"}
    return {key: reverse(name) for key, name in names.items()}


def site_urls(request: HttpRequest) -> dict[str, dict[str, str]]:
    return {"site_urls": _site_urls()}
