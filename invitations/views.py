"""Pages: the picker ("Invite from Bluesky"), the progress page, retry, decline. Thin adapters."""

from __future__ import annotations

import re
from functools import partial

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from bluesky import views as bluesky_views
from bluesky.atproto import AtprotoError
from bluesky.selectors import identity_did_and_grant, scope_grant_gaps
from core.page_cache import PAGE_CACHE_SECONDS, page_part_get, page_response
from core.ratelimit import RateLimitedError
from core.requests import MemberRequest
from invitations import answers, limits, selectors, services, targets
from invitations.models import BATCH_PROGRESS, POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID, Invitation, InvitationBatch

TARGET_MODELS = {"event": "Event", "community": "Community"}

_PLACEHOLDER = re.compile(r"\{(mention|name|date|link)\}")


def get_target(kind: str, pk: int):
    if kind not in TARGET_MODELS:
        raise Http404("Unknown target")
    return get_object_or_404(apps.get_model("elonara", TARGET_MODELS[kind]), pk=pk)


def _page_size(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 100), 100))
    except ValueError:
        return 100


# The picker says how many invitations the host may still send in the last 24 hours (a sliding
# window), and under which account they go (its handle as last signed in): kept no longer.
PICKER_SECONDS = 60


@require_GET
def picker(request: MemberRequest, kind: str, pk: int) -> HttpResponse:
    # The whole page per host, kept until the target, the host's own state (their connection, app
    # password, invitations sent) or the site's posting accounts change.
    if kind not in TARGET_MODELS:
        raise Http404("Unknown target")
    return page_response(request, f"picker:{kind}:{pk}", [(kind, pk), (POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID)],
                         partial(_picker_render, request, kind, pk), members_only=True)


def _picker_render(request: MemberRequest, kind: str, pk: int, extra_context: dict[str, str]
                   ) -> tuple[HttpResponse, int]:
    target = get_target(kind, pk)
    if not targets.target_is_hosted_by(target, member=request.user):
        raise Http404("Not the host")
    # The message shown as a post before anyone is picked: an example person, this target's details
    # (static/js/invitations.js fills the braces the same way as the host types).
    template = services.default_template_for(target)
    sample = {"mention": "@their.handle", "name": targets.target_name(target),
              "date": targets.target_date_text(target), "link": settings.ELONARA_PUBLIC_URL + target.get_absolute_url()}
    posting_account = services.invitation_posting_account(host=request.user)
    did, grant = identity_did_and_grant(member=request.user)
    response = render(
        request,
        "invitations/picker.html",
        {
            "target": target,
            "kind": kind,
            "target_name": targets.target_name(target),
            "default_template": template,
            "sample": sample,
            "sample_post": _PLACEHOLDER.sub(lambda match: sample[match[1]], template),
            "remaining_today": limits.invitation_daily_remaining(host=request.user),
            "daily_cap": limits.host_daily_cap(host=request.user),
            "posting_account": posting_account,
            "connected": bool(did),
            # An older grant lacks what the picker needs (the followers, who blocks the host, and
            # posting when the host's own grant posts): asked to reconnect before inviting fails.
            "grant_gaps": () if grant is None else scope_grant_gaps(scope=grant, features=(
                "followers", "blocked_by",
                *(("posting",) if posting_account is not None and posting_account.kind == "oauth" else ()))),
            "page_size": _page_size(request.GET.get("page_size")),
            "languages": settings.LANGUAGES,
            "post_language": services.invitation_language(host=request.user),
            **extra_context,
        },
    )
    return response, PICKER_SECONDS


@require_GET
def progress(request: HttpRequest, batch_id: int) -> HttpResponse:
    # The whole page per host, kept until an invitation of the batch or its event or community
    # changes. What it invites to is kept beside its progress (a batch never changes target).
    target_ids = page_part_get(BATCH_PROGRESS, batch_id, partial(_batch_target_ids, batch_id), part="target")
    if target_ids is None:
        raise Http404("No such invitation batch.")
    event_id, community_id = target_ids
    return page_response(request, f"batch:{batch_id}",
                         [(BATCH_PROGRESS, batch_id), ("event", event_id), ("community", community_id)],
                         partial(_progress_render, request, batch_id), members_only=True)


def _batch_target_ids(batch_id: int) -> tuple[tuple[int | None, int | None] | None, int]:
    ids = InvitationBatch.objects.filter(pk=batch_id).values_list("event_id", "community_id").first()
    return ids, PAGE_CACHE_SECONDS


def _progress_render(request: HttpRequest, batch_id: int, extra_context: dict[str, str]) -> tuple[HttpResponse, int]:
    batch = get_object_or_404(InvitationBatch.objects.select_related("event", "community"), pk=batch_id,
                              host=request.user)
    response = render(
        request,
        "invitations/progress.html",
        {"batch": batch, "target": batch.target, "target_name": targets.target_name(batch.target),
         "progress": selectors.batch_progress(batch=batch), **extra_context},
    )
    return response, PAGE_CACHE_SECONDS


@login_required
@require_POST
def retry_failed(request: MemberRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(InvitationBatch, pk=batch_id, host=request.user)
    count = services.invitation_retry_failed(host=request.user, batch=batch)
    messages.info(request, ngettext("%(count)d invitation queued again.", "%(count)d invitations queued again.",
                                   count) % {"count": count})
    return HttpResponseRedirect(reverse("invitations:progress", args=[batch.pk]))


STOP_INTENT_KEY = "invitation_stop"


@require_POST
def stop_start(request: HttpRequest, token: str) -> HttpResponse:
    """ "Stop invitations": prove the invitee's DID with a Bluesky sign-in asking only `atproto`
    (no Elonara account), then `stop_done` stores the opt-out."""
    invitation = get_object_or_404(Invitation.objects.select_related("event", "community"), token=token[:64])
    back = targets.target_public_path(invitation.target, token=invitation.token)
    scope = request.POST.get("scope", "")
    if scope not in ("host", "all"):
        messages.error(request, _("Choose who should stop inviting you."))
        return HttpResponseRedirect(back)
    request.session[STOP_INTENT_KEY] = {"token": invitation.token, "scope": scope}
    try:
        url = bluesky_views.prove_did_start(request, did=invitation.recipient_did,
                                            next_path=reverse("invitations:stop_done", args=[invitation.token]))
    except (AtprotoError, RateLimitedError) as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(back)
    return HttpResponseRedirect(url)


@require_GET
def stop_done(request: HttpRequest, token: str) -> HttpResponse:
    """Back from the proving sign-in: store the opt-out for the DID the server proved."""
    intent = request.session.pop(STOP_INTENT_KEY, None)
    did = bluesky_views.verified_did_pop(request)
    if not did or not isinstance(intent, dict) or intent.get("token") != token:
        messages.error(request, _("Your Bluesky account could not be confirmed. Please try again."))
        return HttpResponseRedirect(reverse("home"))
    try:
        invitation = answers.invitation_opt_out(did=did, token=token, scope=str(intent.get("scope")))
    except services.InvitationError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("home"))
    return render(request, "invitations/stopped.html", {
        "scope": intent.get("scope"), "host_handle": selectors.host_handle_get(host=invitation.host),
        "target_name": targets.target_name(invitation.target),
    })


@login_required
@require_POST
def decline(request: MemberRequest, token: str) -> HttpResponse:
    try:
        invitation = answers.invitation_decline(member=request.user, token=token)
    except services.InvitationError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("home"))
    messages.info(request, _("Invitation declined. This host will not invite you again."))
    return HttpResponseRedirect(invitation.target.get_absolute_url())
