"""Who a host may invite, and how many: daily caps per host, weekly caps per recipient,
opt-outs, and what the picker says about each person it cannot invite."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bluesky.graph import GraphProfile
from invitations.models import Invitation, InvitationDecline, InvitationOptOut
from members.models import Member

S = Invitation.Status

def host_daily_cap(*, host: Member) -> int:
    """Invitations this host may send in 24 hours: fewer while their account is new."""
    joined = getattr(host, "date_joined", None)
    if joined is not None and joined > timezone.now() - timedelta(days=settings.INVITATIONS_NEW_HOST_DAYS):
        return min(settings.INVITATIONS_DAILY_CAP_NEW_HOST, settings.INVITATIONS_DAILY_CAP_PER_HOST)
    return settings.INVITATIONS_DAILY_CAP_PER_HOST


def invitation_daily_remaining(*, host: Member) -> int:
    since = timezone.now() - timedelta(days=1)
    used = Invitation.objects.filter(host=host, created_at__gte=since).count()
    return max(host_daily_cap(host=host) - used, 0)


def recipients_week_counts(*, dids: list[str]) -> dict[str, int]:
    """Invitations each DID got in the last 7 days from all hosts (a permanently failed one notified
    nobody and does not count)."""
    if not dids:
        return {}
    since = timezone.now() - timedelta(days=7)
    rows = (Invitation.objects.filter(recipient_did__in=dids, created_at__gte=since)
            .exclude(status=S.FAILED, retryable=False)
            .values_list("recipient_did").annotate(n=Count("pk")).values_list("recipient_did", "n"))
    return dict(rows)


def opted_out_dids(*, host: Member, dids: list[str]) -> dict[str, str]:
    """DID -> "opted_out" (no invitations from anyone) or "declined" (none from this host)."""
    if not dids:
        return {}
    out = {did: "declined" for did in InvitationDecline.objects.filter(
        host=host, recipient_did__in=dids).values_list("recipient_did", flat=True)}
    out.update({did: "opted_out" for did in InvitationOptOut.objects.filter(
        recipient_did__in=dids).values_list("recipient_did", flat=True)})
    return out


# What the picker and the API say about someone who cannot be invited.
# Lazy: said in the language of the picker that shows them.
SKIP_REASONS = {
    "not_connected": _("not connected to you on Bluesky"),
    "not_mutual": _("follows you? no — you follow them but they don't follow you back"),
    "already_invited": _("already invited"),
    "declined": _("asked not to be invited by you"),
    "opted_out": _("opted out of Elonara invitations"),
    "already_member": _("already in"),
    "recipient_weekly_cap": _("weekly limit reached (they got enough invitations this week)"),
    "daily_cap": _("your daily limit is reached"),
    "blocked_by": _("blocks you"),
    "blocking": _("you block them"),
}


def picker_marks(*, host: Member, profiles: list[GraphProfile]) -> dict[str, str]:
    """DID -> why the host cannot invite this person (absent: they can, as far as we know now).
    Three queries per page, whatever its size."""
    dids = [p.did for p in profiles]
    marks = {p.did: "not_mutual" for p in profiles if p.follows_you is False}
    week = recipients_week_counts(dids=dids)
    marks.update({did: "recipient_weekly_cap" for did, n in week.items()
                  if n >= settings.INVITATIONS_WEEKLY_CAP_PER_RECIPIENT})
    marks.update(opted_out_dids(host=host, dids=dids))
    return marks
