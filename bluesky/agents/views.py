"""The member's app-password add/remove endpoints (shown on the Bluesky card). Thin: parse, call
one service, redirect with a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from bluesky.agents import services
from bluesky.agents.errors import AgentError
from bluesky.agents.forms import AppPasswordForm
from bluesky.agents.models import MemberAppPassword


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # Open-redirect guard: only same-site paths.
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("bluesky_agents:app_password")


@login_required
@require_http_methods(["GET"])
def app_password_page(request: HttpRequest) -> HttpResponse:
    return render(request, "bluesky_agents/app_password_page.html", {"next": request.get_full_path()})


@login_required
@require_POST
def app_password_add(request: HttpRequest) -> HttpResponse:
    form = AppPasswordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your Bluesky handle and an app password.")
        return HttpResponseRedirect(_next_url(request))
    try:
        saved = services.member_app_password_set(
            member=request.user,
            identifier=form.cleaned_data["identifier"],
            app_password=form.cleaned_data["app_password"],
        )
    except AgentError as exc:
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


def app_password_context(*, member, next_url: str = "") -> dict:
    """Context for templates/bluesky_agents/_app_password_form.html."""
    saved = MemberAppPassword.objects.filter(member_id=getattr(member, "pk", None)).first()
    return {"app_password": saved, "app_password_form": AppPasswordForm(), "next": next_url}
