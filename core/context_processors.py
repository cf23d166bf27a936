"""Template context every page gets."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf

from core.paths import page_path

_SITE_PAGES = {"home": "home", "communities": "community-list", "upcoming": "network:upcoming",
               "event_create": "event-create", "logout": "members:logout", "login": "members:login",
               "signup": "members:signup", "terms": "terms", "privacy": "privacy", "language": "language"}


@cache
def _site_urls(_prefix: str, _urlconf: Any) -> dict[str, str]:
    # The header's and footer's links, on every page: one dict per script prefix and URLconf (in
    # the key only: page_path reads them itself), not nine lookups per request.
    return {key: page_path(name) for key, name in _SITE_PAGES.items()}


def site_urls(request: HttpRequest) -> dict[str, dict[str, str]]:
    return {"site_urls": _site_urls(get_script_prefix(), get_urlconf())}
