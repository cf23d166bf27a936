import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bluesky import network
from bluesky.atproto import AtprotoError
from bluesky.keys import client_keys_published
from bluesky.services import BlueskyOAuthService

logger = logging.getLogger(__name__)


def _profile(request):
    return redirect("members:profile", username=request.user.username)


@require_POST
@login_required
def connect(request):
    try:
        url = BlueskyOAuthService().start_authorization(request.user, request.POST.get("identifier", ""))
    except AtprotoError as error:
        logger.info("bluesky connect refused", extra={"code": error.code})
        messages.error(request, error.message)
        return _profile(request)
    return redirect(url)


@require_POST
@login_required
def reauthorize(request):
    try:
        url = BlueskyOAuthService().reauthorize(request.user)
    except AtprotoError as error:
        messages.error(request, error.message)
        return _profile(request)
    return redirect(url)


@require_GET
@never_cache
@login_required
def callback(request):
    try:
        identity = BlueskyOAuthService().handle_callback(request)
    except AtprotoError as error:
        logger.info("bluesky callback refused", extra={"code": error.code})
        return render(request, "bluesky/connect_error.html", {"message": error.message}, status=400)
    messages.success(request, f"Connected to Bluesky as @{identity.handle}.")
    return _profile(request)


@require_POST
@login_required
def disconnect(request):
    if BlueskyOAuthService().disconnect(request.user):
        messages.success(request, "Your Bluesky account is disconnected.")
    return _profile(request)


@require_GET
def client_metadata(request):
    if not network.is_confidential_client():
        raise Http404("The loopback development client publishes no metadata.")
    return JsonResponse(network.client_metadata_document())


@require_GET
def jwks(request):
    if not network.is_confidential_client():
        raise Http404("The loopback development client has no keys.")
    network.client_keyset()  # makes sure an active key exists
    return JsonResponse({"keys": [row.public_jwk for row in client_keys_published()]})
