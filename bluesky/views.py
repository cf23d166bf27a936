"""The Bluesky card's endpoints (connect, callback, reauthorize, disconnect, app password) and our
OAuth client's public documents. Thin: parse input, call one service, redirect or render."""

import logging
import secrets
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from bluesky import clients, keys, services
from bluesky.atproto import AtprotoError
from bluesky.errors import BlueskyError
from bluesky.forms import AppPasswordForm
from bluesky.models import BlueskySignIn, OAuthAuthorizationRequest
from bluesky.services import BlueskyOAuthService
from core import metrics
from core.ratelimit import RateLimitedError, rate_limit_request
from core.requests import MemberRequest

logger = logging.getLogger(__name__)


BROWSER_SECRET_KEY = "bluesky_browser_secret"
# After an OPT_OUT sign-in: the DID the server proved, for the page that asked (next_path).
VERIFIED_DID_KEY = "bluesky_verified_did"


def _shown(error: AtprotoError | BlueskyError | RateLimitedError) -> str:
    """The error's message in the request's language: the Django-free protocol package only marks
    its messages (`gettext_noop`), so they are translated here; ours are translated already."""
    return gettext(error.message)


def _profile(request):
    return redirect("members:profile", username=request.user.username)


def _browser_secret(request: HttpRequest) -> str:
    """A random value in this browser's session: a callback must come back to the same browser."""
    secret = request.session.get(BROWSER_SECRET_KEY)
    if not secret:
        secret = request.session[BROWSER_SECRET_KEY] = secrets.token_urlsafe(32)
    return secret


def _same_site_path(request: HttpRequest, candidate: str) -> str:
    # Open-redirect guard: only paths on this site.
    if candidate and candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


@sensitive_post_parameters()
@require_POST
@login_required
def connect(request):
    try:
        rate_limit_request(request, "bluesky_start")
        url = BlueskyOAuthService.start(member=request.user, login_input=request.POST.get("identifier", ""),
                                        browser_secret=_browser_secret(request))
    except (AtprotoError, RateLimitedError) as error:
        logger.info("bluesky connect refused", extra={"code": error.code})
        metrics.connect_refused(error.code)
        messages.error(request, _shown(error))
        return _profile(request)
    metrics.connect_started()
    return redirect(url)


@sensitive_post_parameters()
@require_POST
def sign_in(request):
    """ "Continue with Bluesky": sign in, or sign up, with a Bluesky account (no password)."""
    next_path = _same_site_path(request, request.POST.get("next", ""))
    try:
        rate_limit_request(request, "bluesky_start")
        url = BlueskyOAuthService.start(login_input=request.POST.get("identifier", ""),
                                        browser_secret=_browser_secret(request),
                                        purpose=OAuthAuthorizationRequest.Purpose.SIGN_IN, next_path=next_path)
    except (AtprotoError, RateLimitedError) as error:
        logger.info("bluesky sign-in refused", extra={"code": error.code})
        metrics.connect_refused(error.code)
        messages.error(request, _shown(error))
        login_url = reverse("members:login")
        return redirect(f"{login_url}?{urlencode({'next': next_path})}" if next_path else login_url)
    metrics.connect_started()
    return redirect(url)


def prove_did_start(request: HttpRequest, *, did: str, next_path: str) -> str:
    """Start a sign-in that proves `did` and nothing more (scope `atproto`); the callback returns to
    `next_path` (same-site) with the proven DID in the session (`verified_did_pop`)."""
    rate_limit_request(request, "bluesky_start")
    return BlueskyOAuthService.start(login_input=did, browser_secret=_browser_secret(request),
                                     purpose=OAuthAuthorizationRequest.Purpose.OPT_OUT,
                                     next_path=_same_site_path(request, next_path))


VERIFIED_DID_MAX_AGE = 600


def verified_did_pop(request: HttpRequest) -> str:
    """The DID proven by the last `prove_did_start` sign-in in this browser ("" if none or stale); single use."""
    proof = request.session.pop(VERIFIED_DID_KEY, None)
    if not isinstance(proof, dict) or time.time() - float(proof.get("at", 0)) > VERIFIED_DID_MAX_AGE:
        return ""
    did = proof.get("did")
    return did if isinstance(did, str) else ""


@require_POST
@login_required
def reauthorize(request):
    try:
        rate_limit_request(request, "bluesky_start")
        url = BlueskyOAuthService.reauthorize(member=request.user, browser_secret=_browser_secret(request),
                                              next_path=_same_site_path(request, request.POST.get("next", "")))
    except (AtprotoError, BlueskyError, RateLimitedError) as error:
        messages.error(request, _shown(error))
        return _profile(request)
    return redirect(url)


@require_GET
@never_cache
def callback(request):
    member = request.user if request.user.is_authenticated else None
    try:
        done = BlueskyOAuthService.complete(params=request.GET, browser_secret=_browser_secret(request),
                                            member=member)
    except AtprotoError as error:
        logger.info("bluesky callback refused", extra={"code": error.code})
        metrics.connect_refused(error.code)
        return render(request, "bluesky/connect_error.html", {"message": _shown(error)}, status=400)
    if done.purpose == OAuthAuthorizationRequest.Purpose.OPT_OUT:
        # Kept server-side in this browser's session only: the page that started the proof reads it.
        request.session[VERIFIED_DID_KEY] = {"did": done.did, "at": int(time.time())}
        return redirect(_same_site_path(request, done.next_path) or "home")
    metrics.connect_completed()
    # CONNECT and SIGN_IN always complete with an identity and its member.
    assert done.identity is not None and done.member is not None
    if done.purpose == OAuthAuthorizationRequest.Purpose.CONNECT:
        messages.success(request, _("Connected to Bluesky as @%(handle)s.") % {"handle": done.identity.handle})
        # A reconnect asked from a page (the picker, the delete page) returns there.
        back = _same_site_path(request, done.next_path)
        return redirect(back) if back else _profile(request)
    # A new session key for the signed-in member (django.contrib.auth rotates it).
    login(request, done.member, backend="django.contrib.auth.backends.ModelBackend")
    if done.member_created:
        messages.success(request, _("Welcome to Elonara, %(name)s! You signed up with Bluesky as @%(handle)s.")
                         % {"name": done.member.name, "handle": done.identity.handle})
    else:
        messages.success(request, _("Signed in with Bluesky as @%(handle)s.") % {"handle": done.identity.handle})
    return redirect(_same_site_path(request, done.next_path) or "home")


@require_POST
@login_required
def disconnect(request):
    identity = BlueskyOAuthService.get_identity_for_member(member=request.user)
    handle = identity.handle if identity is not None else ""
    if BlueskyOAuthService.disconnect(member=request.user):
        messages.success(request, _("Your Bluesky account is disconnected."))
        if BlueskySignIn.objects.filter(member=request.user).exists():
            # Their way back in when they have no password: the sign-in link stays.
            if request.user.has_usable_password():
                messages.info(request, _("You can still sign in to Elonara with Bluesky as @%(handle)s.")
                              % {"handle": handle})
            else:
                messages.info(request, _("You can still sign in to Elonara with Bluesky as @%(handle)s, or set a "
                                         "password.") % {"handle": handle})
    return _profile(request)


# --- App passwords (the card's "Posting with an app password" block) --------------------------

def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    return _same_site_path(request, candidate) or reverse("bluesky:app_password")


@login_required
@require_GET
def app_password_page(request: HttpRequest) -> HttpResponse:
    return render(request, "bluesky/app_password_page.html", {"next": request.get_full_path()})


@sensitive_post_parameters("app_password")
@sensitive_variables("form")
@login_required
@require_POST
def app_password_add(request: MemberRequest) -> HttpResponse:
    form = AppPasswordForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter your Bluesky handle and an app password."))
        return HttpResponseRedirect(_next_url(request))
    try:
        rate_limit_request(request, "app_password")
    except RateLimitedError as exc:
        messages.error(request, _("The app password was not saved: %(reason)s") % {"reason": exc.message})
        return HttpResponseRedirect(_next_url(request))
    try:
        saved = services.member_app_password_set(member=request.user, identifier=form.cleaned_data["identifier"],
                                                 app_password=form.cleaned_data["app_password"])
    except BlueskyError as exc:
        # The message is written by us and never contains the password.
        messages.error(request, _("The app password was not saved: %(reason)s") % {"reason": exc.message})
    else:
        messages.success(request, _("App password saved: Elonara can post as @%(account)s.")
                         % {"account": saved.handle or saved.identifier})
    return HttpResponseRedirect(_next_url(request))


@login_required
@require_POST
def app_password_remove(request: MemberRequest) -> HttpResponse:
    if services.member_app_password_remove(member=request.user):
        messages.success(request, _("App password removed."))
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
