"""The Bluesky card's endpoints (connect, callback, reauthorize, disconnect, app password) and our
OAuth client's public documents. Thin: parse input, call one service, redirect or render."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bluesky import clients, keys, services
from bluesky.atproto import AtprotoError
from bluesky.errors import BlueskyError
from bluesky.forms import AppPasswordForm

logger = logging.getLogger(__name__)


def _profile(request):
    return redirect("members:profile", username=request.user.username)


@require_POST
@login_required
def connect(request):
    try:
        url = services.oauth_start(member=request.user, login_input=request.POST.get("identifier", ""))
    except AtprotoError as error:
        logger.info("bluesky connect refused", extra={"code": error.code})
        messages.error(request, error.message)
        return _profile(request)
    return redirect(url)


@require_POST
@login_required
def reauthorize(request):
    try:
        url = services.oauth_reauthorize(member=request.user)
    except (AtprotoError, BlueskyError) as error:
        messages.error(request, error.message)
        return _profile(request)
    return redirect(url)


@require_GET
@never_cache
@login_required
def callback(request):
    try:
        identity = services.oauth_complete(member=request.user, params=request.GET)
    except AtprotoError as error:
        logger.info("bluesky callback refused", extra={"code": error.code})
        return render(request, "bluesky/connect_error.html", {"message": error.message}, status=400)
    messages.success(request, f"Connected to Bluesky as @{identity.handle}.")
    return _profile(request)


@require_POST
@login_required
def disconnect(request):
    if services.identity_disconnect(member=request.user):
        messages.success(request, "Your Bluesky account is disconnected.")
    return _profile(request)


# --- App passwords (the card's "Posting with an app password" block) --------------------------

def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # Open-redirect guard: only same-site paths.
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("bluesky:app_password")


@login_required
@require_GET
def app_password_page(request: HttpRequest) -> HttpResponse:
    return render(request, "bluesky/app_password_page.html", {"next": request.get_full_path()})


@login_required
@require_POST
def app_password_add(request: HttpRequest) -> HttpResponse:
    form = AppPasswordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your Bluesky handle and an app password.")
        return HttpResponseRedirect(_next_url(request))
    try:
        saved = services.member_app_password_set(member=request.user, identifier=form.cleaned_data["identifier"],
                                                 app_password=form.cleaned_data["app_password"])
    except BlueskyError as exc:
        # The message is written by us and never contains the password.
        messages.error(request, f"The app password was not saved: {exc.message}")
    else:
        messages.success(request, f"App password saved: Elonara can post as @{saved.handle or saved.identifier}.")
    return HttpResponseRedirect(_next_url(request))


@login_required
@require_POST
def app_password_remove(request: HttpRequest) -> HttpResponse:
    if services.member_app_password_remove(member=request.user):
        messages.success(request, "App password removed.")
    return HttpResponseRedirect(_next_url(request))


# --- Our client's public documents ------------------------------------------------------------

@require_GET
def client_metadata(request):
    if not clients.is_confidential_client():
        raise Http404("The loopback development client publishes no metadata.")
    return JsonResponse(clients.client_metadata_document())


@require_GET
def jwks(request):
    if not clients.is_confidential_client():
        raise Http404("The loopback development client has no keys.")
    keys.client_keyset()  # makes sure an active key exists
    return JsonResponse({"keys": [row.public_jwk for row in keys.client_keys_published()]})
