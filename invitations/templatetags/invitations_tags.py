"""Template tags the event/community pages and the home page use to show invitations.

    {% load invitations_tags %}
    {% invitation_host_tools event %}      "Invite from Bluesky" for the host, "Share on Bluesky" for all
    {% invitation_banner event %}          "@host invited you" when the URL carries ?invitation=
    {% invitation_landing event as banner %}  the same facts, for a page that places the banner itself
                                           ({% include "invitations/_banner.html" %}) and hides its
                                           own answer form when `banner.invitation` is set
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse

from bluesky.selectors import member_did_get
from elonara.models import RSVP
from invitations import selectors, targets
from invitations.answers import invitation_landing_opened
from invitations.figures import BAR_HEIGHT, CHART_WIDTH, LABEL_WIDTH, funnel_bars
from invitations.figures import event_figures as figures_get
from invitations.selectors import host_handle_get

register = template.Library()


@register.inclusion_tag("invitations/_host_tools.html", takes_context=True)
def invitation_host_tools(context, target, can_invite=None, primary=True):
    """`can_invite`: whether the viewer may invite to it, when the page knows already (else a query);
    `primary`: "Invite from Bluesky" is the page's main button (not where another one leads)."""
    user = context["request"].user
    invite_url = ""
    if can_invite is None:
        can_invite = user.is_authenticated and targets.target_is_hosted_by(target, member=user)
    if can_invite:
        invite_url = reverse("invitations:picker", args=[targets.target_kind(target), target.pk])
    share_url = "https://bsky.app/intent/compose?" + urlencode({"text": targets.target_share_text(target)})
    return {"invite_url": invite_url, "share_url": share_url, "primary": primary}


def _safe_reverse(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.inclusion_tag("invitations/_banner.html", takes_context=True)
def invitation_banner(context, target):
    return {"banner": invitation_landing(context, target), "csrf_token": context.get("csrf_token"),
            "request": context["request"], "user": context["request"].user}


@register.simple_tag(takes_context=True)
def invitation_landing(context, target) -> dict:
    """What the invitation landing needs: empty (`invitation` None) without a valid ?invitation=."""
    request = context["request"]
    invitation = selectors.invitation_for_landing(target=target, token=request.GET.get("invitation"))
    user = request.user
    if invitation is None:
        return {"invitation": None}
    # Opened by a person's browser: a navigation (Sec-Fetch-Dest, which link-preview fetchers do not
    # send) by anyone but the host checking their own link.
    if (request.method == "GET" and request.headers.get("Sec-Fetch-Dest") == "document"
            and request.user.pk != invitation.host_id):
        invitation_landing_opened(invitation=invitation)
    invitation.host_handle = host_handle_get(host=invitation.host)  # type: ignore[attr-defined] # for the template
    next_path = request.get_full_path()
    signup = _safe_reverse("members:signup")
    login = _safe_reverse("members:login")
    is_invitee = user.is_authenticated and member_did_get(member=user) == invitation.recipient_did
    kind = targets.target_kind(target)
    answerable = is_invitee and invitation.status in (invitation.Status.SENT, invitation.Status.FAILED,
                                                      invitation.Status.ACCEPTED)
    answer_url = ""
    if answerable:
        answer_url = (reverse("event-rsvp", args=[target.pk]) if kind == "event"
                      else reverse("community-join", args=[target.slug]))
    return {
        "invitation": invitation,
        "kind": kind,
        "landing_path": next_path,
        "signup_url": f"{signup}?{urlencode({'next': next_path})}" if signup else "",
        "login_url": f"{login}?{urlencode({'next': next_path})}" if login else "",
        "is_invitee": is_invitee,
        "answer_url": answer_url,
        # The same words as everywhere else an answer is given (one word per answer).
        "answers": [(status.value, status.label) for status in RSVP.ANSWERS],
        "can_decline": is_invitee and invitation.status == invitation.Status.SENT,
        # Anyone holding the link may start it; only the invitee's own sign-in completes it.
        "can_stop": not is_invitee,
    }


@register.inclusion_tag("invitations/_figures.html")
def event_figures(event) -> dict:
    """The host's figures on the event's people page: the invitations' funnel as an SVG bar
    chart with the same numbers in a table, per batch, and the answers by where they came from."""
    figures = figures_get(event=event)
    chart = funnel_bars(figures.total) if figures.total else ([], 0)
    return {"event": event, "figures": figures, "bars": chart[0], "height": chart[1],
            "chart_width": CHART_WIDTH, "label_width": LABEL_WIDTH, "bar_height": BAR_HEIGHT}
