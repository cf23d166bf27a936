"""The feed generator's XRPC endpoints (under /xrpc/) and our did:web document. Thin: each parses
its query, calls one service and answers JSON; a FeedError becomes an XRPC error body
(`{"error", "message"}`), which the App View passes on to the Bluesky app."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from core.requests import MemberRequest
from elonara.models import Community
from feeds import services
from feeds.errors import FeedError


def _xrpc(view: Callable[[HttpRequest], JsonResponse]) -> Callable[[HttpRequest], JsonResponse]:
    def wrapped(request: HttpRequest) -> JsonResponse:
        try:
            return view(request)
        except FeedError as exc:
            response = JsonResponse({"error": exc.xrpc_error, "message": exc.message}, status=exc.status)
            if exc.status == 401:
                response["WWW-Authenticate"] = 'Bearer realm="feeds"'
            return response

    wrapped.__name__ = view.__name__
    return require_GET(wrapped)


@_xrpc
def describe_feed_generator(request: HttpRequest) -> JsonResponse:
    return JsonResponse(services.generator_describe())


@_xrpc
def get_feed_skeleton(request: HttpRequest) -> JsonResponse:
    feed = request.GET.get("feed", "")
    limit_text = request.GET.get("limit", "")
    if limit_text and not limit_text.isdigit():
        raise FeedError("limit must be a number from 1 to 100.", code="bad_request")
    skeleton = services.feed_skeleton(feed_uri=feed, limit=int(limit_text) if limit_text else None,
                                      cursor=request.GET.get("cursor") or None,
                                      authorization=request.headers.get("Authorization"))
    return JsonResponse(skeleton.as_dict())


@require_GET
def did_json(request: HttpRequest) -> JsonResponse:
    document = services.did_document()
    if document is None:
        raise Http404("no did:web document here")
    return JsonResponse(document)


@login_required
@require_http_methods(["GET", "POST"])
def community_feed(request: MemberRequest, slug: str) -> HttpResponse:
    """An organizer's page for the community's Bluesky feed: its state and one button."""
    community = get_object_or_404(Community, slug=slug)
    if request.method == "POST":
        wanted = services.community_feed_set(community=community, actor=request.user,
                                             wanted=request.POST.get("wanted") == "1")
        messages.success(request, gettext("The Bluesky feed is on.") if wanted else gettext("The Bluesky feed is off."))
        return redirect("feeds-community", slug=community.slug)
    state = services.community_feed_state(community=community, actor=request.user)
    return render(request, "feeds/community_feed.html",
                  {"community": community, "wanted": state.wanted, "feed_url": state.web_url})
