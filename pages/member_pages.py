"""A member's own pages that compose several apps: their profile (their communities from elonara,
their mail settings from notifications, beside members' own settings) and the account deletion
page (the events and communities that go with them). Served under /members/ with members' names
(pages.member_urls)."""

from functools import partial

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.page_cache import page_response
from elonara import selectors as event_selectors
from members.api_tokens import api_token_list_for_member
from members.forms import ApiTokenForm
from members.models import Member
from members.services import member_delete
from notifications import services as mail_services
from notifications.forms import MailSettingsForm

# The own profile says when the calendar feed was last read ("5 minutes ago"): kept no longer.
PROFILE_SECONDS = 60


def profile(request, username):
    # The own profile, a page of settings, is kept whole until the member's own state changes
    # (core.page_cache.VIEWER: their row, communities, Bluesky connection, feed, mail, tokens);
    # someone else's is not kept (it shows their state, not the viewer's).
    return page_response(request, f"profile:{username}", [], partial(_profile_render, request, username))


def _profile_render(request, username: str, extra_context: dict[str, str]) -> tuple[HttpResponse, int]:
    user = request.user
    is_self = user.is_authenticated and user.username == username
    # Their own: the row the request already holds (renewed with every change of it), no query more.
    member = user if is_self else get_object_or_404(Member, username=username)
    context = {
        "profile_member": member,
        "is_self": is_self,
        "communities": event_selectors.community_list_for_member(member=member),
        "api_tokens": api_token_list_for_member(member=member) if is_self else [],
        "api_token_form": ApiTokenForm() if is_self else None,
        **extra_context,
    }
    if is_self:
        mail_settings = mail_services.mail_settings_get(member=member)
        context.update(mail_settings=mail_settings, mail_settings_form=MailSettingsForm(instance=mail_settings),
                       mail_settings_confirmed=mail_settings.is_confirmed(member.email),
                       mail_settings_refused=mail_settings.is_refused(member.email))
    return render(request, "members/profile.html", context), PROFILE_SECONDS if is_self else 0


@login_required
def account_delete(request):
    member = request.user
    if request.method == "POST":
        if request.POST.get("confirm_username", "").strip() != member.username:
            messages.error(request, _("Type your username to confirm."))
        else:
            logout(request)
            member_delete(member=member)
            messages.success(request, _("Your Elonara account is deleted. Posts already on Bluesky are yours and "
                                        "stay there."))
            return redirect("home")
    context = {
        "hosted_events": member.hosted_events.all(),
        "created_communities": event_selectors.community_list_created_by(member=member),
    }
    return render(request, "members/account_delete.html", context)
