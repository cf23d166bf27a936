"""Template tags the event/community pages and the home page use to show invitations.

    {% load invitations_tags %}
    {% invitation_host_tools event %}      "Invite from Bluesky" for the host
    {% invitation_banner event %}          "@host invited you" when the URL carries ?invitation=
    {% member_invitations %}               the logged-in member's Bluesky invitations (home page)
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse

from invitations import selectors, targets

register = template.Library()


@register.inclusion_tag("invitations/_host_tools.html", takes_context=True)
def invitation_host_tools(context, target):
    request = context.get("request")
    user = getattr(request, "user", None)
    invite_url = ""
    if user is not None and user.is_authenticated and targets.target_is_hosted_by(target, member=user):
        invite_url = reverse("invitations:picker", args=[targets.target_kind(target), target.pk])
    return {"invite_url": invite_url}


def _safe_reverse(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.inclusion_tag("invitations/_banner.html", takes_context=True)
def invitation_banner(context, target):
    request = context.get("request")
    token = request.GET.get("invitation") if request is not None else None
    invitation = selectors.invitation_for_landing(target=target, token=token)
    user = getattr(request, "user", None)
    if invitation is None:
        return {"invitation": None}
    invitation.host_handle = targets.member_handle(invitation.host) or str(invitation.host)
    next_path = request.get_full_path()
    signup = _safe_reverse("members:signup")
    login = _safe_reverse("members:login")
    return {
        "invitation": invitation,
        "kind": targets.target_kind(target),
        "user": user,
        "signup_url": f"{signup}?{urlencode({'next': next_path})}" if signup else "",
        "login_url": f"{login}?{urlencode({'next': next_path})}" if login else "",
        "can_decline": bool(user is not None and user.is_authenticated
                            and targets.member_did(user) == invitation.recipient_did
                            and invitation.status == invitation.Status.SENT),
    }


@register.inclusion_tag("invitations/_member_invitations.html", takes_context=True)
def member_invitations(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"invitations": []}
    return {"invitations": selectors.invitations_for_member(member=user)}
