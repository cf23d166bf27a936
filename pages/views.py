"""The pages that compose every app: the home page (its member side: plans here and in other
apps, communities, invitations) and a member's private calendar feed."""

from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from core.page_cache import EVENT_LISTS, EVENT_LISTS_ID, MEMBER_HOME, page_response
from elonara import selectors
from elonara.services import UPCOMING_CACHE_SECONDS, anonymous_home_cache_key
from elonara.views import calendar_file_response
from pages import member_feed
from pages.home import member_home_side


def home(request):
    # A visitor with no session and no pending message sees the same page as every other: served
    # whole from the cache (dropped with the upcoming-events fragment when an event changes).
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES:
        key = anonymous_home_cache_key(get_language())
        if (html := cache.get(key)) is None:
            html = _home_render(request, {})[0].content
            cache.set(key, html, UPCOMING_CACHE_SECONDS)
        return HttpResponse(html)
    # A member's whole page is kept until their lists or the upcoming events change (at most as
    # long as the upcoming fragment: an event that ends leaves it).
    return page_response(request, "home", [(EVENT_LISTS, EVENT_LISTS_ID)], partial(_home_render, request),
                         viewer_kinds=[MEMBER_HOME])


def _home_render(request, extra_context: dict[str, str]) -> tuple[HttpResponse, int]:
    # A callable: the template calls it (building the queryset) only when the cached fragment is missing.
    context = {"upcoming_events": partial(selectors.event_list_upcoming, limit=30),
               "upcoming_ttl": UPCOMING_CACHE_SECONDS, **extra_context}
    if request.user.is_authenticated:
        # Rendered once and cached per member (plain rows, links only), not from the template's conditions.
        context["member_side"] = member_home_side(member=request.user)
    return render(request, "elonara/home.html", context), UPCOMING_CACHE_SECONDS



@require_GET
def member_calendar(request, token):
    """A member's private feed. No login (calendar apps cannot); the secret token is the key.

    An unknown or revoked token is a plain 404: it says nothing about whether a feed existed.
    """
    calendar = member_feed.member_calendar_for_token(token=token)
    if calendar is None:
        raise Http404("No such calendar")
    return calendar_file_response(request, calendar,
                                  filename="elonara.ics",
                                  headers={"Cache-Control": "private, max-age=300",
                                           "X-Robots-Tag": "noindex, nofollow"})


