"""Read-side queries for invitations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from bluesky.models import MemberAppPassword
from bluesky.selectors import member_did_subquery
from bluesky.services import BlueskyOAuthService
from core.paths import page_path
from core.sql import STAND_IN_ID, FixedQuery
from invitations import targets
from invitations.limits import host_daily_cap
from invitations.models import Invitation, InvitationBatch, InvitationDecline, InvitationOptOut
from invitations.targets import Target
from members.models import Member

S = Invitation.Status
WAITING = (S.PENDING, S.QUEUED, S.SENDING)
DONE_SENT = (S.SENT, S.ACCEPTED, S.DECLINED)


def batch_progress(*, batch: InvitationBatch) -> dict[str, Any]:
    counts = dict(batch.invitations.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    total = sum(counts.values())
    sent = sum(counts.get(s, 0) for s in DONE_SENT)
    failed = counts.get(S.FAILED, 0)
    waiting = sum(counts.get(s, 0) for s in WAITING)
    failures = [
        {"id": pk, "handle": handle, "reason": reason, "code": code, "retryable": retryable}
        for pk, handle, reason, code, retryable in batch.invitations.filter(status=S.FAILED).order_by("pk")
        .values_list("pk", "recipient_handle", "failure_reason", "failure_code", "retryable")[:200]
    ]
    return {
        "batch": batch.pk, "total": total, "sent": sent, "failed": failed, "waiting": waiting,
        "accepted": counts.get(S.ACCEPTED, 0), "done": waiting == 0, "failures": failures,
    }


def invitation_for_landing(*, target: Target, token: str | None) -> Invitation | None:
    if not token or len(token) > 64:
        return None
    return Invitation.objects.select_related("host").filter(token=token, **targets.target_filter(target)).first()


def _addressed_to(member_id: int) -> QuerySet[Invitation]:
    """Invitations sent (or accepted) to the member's connected Bluesky account, newest first."""
    return (Invitation.objects.filter(recipient_did__in=member_did_subquery(member_id=member_id),
                                      status__in=[S.SENT, S.ACCEPTED])
            .order_by("-created_at"))


def invitations_for_member(*, member: Member) -> list[Invitation]:
    """Invitations addressed to the member's connected Bluesky account, the 50 newest."""
    if not member.is_authenticated:
        return []
    return list(_addressed_to(member.pk).select_related("host", "event", "community")[:50])


# The member home asks on each cold build: the SQL (three joins and the DID's subquery) compiled
# once (core.sql). One query for the columns shown (the invitation rows are wide: message, post,
# failure, ...).
_HOME_INVITATIONS = FixedQuery(lambda member_id: (
    _addressed_to(member_id).values_list("token", "status", "host__username", "host__display_name", "event_id",
                                         "event__title", "community__slug", "community__name")[:50]),
    member_id=STAND_IN_ID)


def invitation_list_for_home(*, member: Member) -> list[dict[str, str]]:
    """The home page's "Your Bluesky invitations": [{url, title, host, status, token}], the 50
    newest."""
    if not member.is_authenticated:
        return []
    rows = _HOME_INVITATIONS.all(member_id=member.pk)
    # Said from the recipient's side ("Sent" is the sender's word for it).
    label = {S.SENT: gettext("Waiting for your answer"), S.ACCEPTED: gettext("Accepted")}
    return [
        {"url": (page_path("event-detail", event_id) if event_id else page_path("community-detail", slug)),
         "title": event_title if event_id else community_name, "host": display_name or username,
         "status": label[status], "token": token}
        for token, status, username, display_name, event_id, event_title, slug, community_name in rows
    ]


def invited_dids(*, target: Target) -> dict[str, str]:
    """DID -> status of everyone already invited to this target (the picker marks them)."""
    return dict(Invitation.objects.filter(**targets.target_filter(target)).values_list("recipient_did", "status"))


def host_handle_get(*, host: Member) -> str:
    """How the landing banner names the host: as the post named them (`services.host_label`): their
    connected Bluesky handle, else the handle of their app password, else their username."""
    identity = BlueskyOAuthService.get_identity_for_member(member=host)
    if identity is not None and identity.handle:
        return identity.handle
    handle = MemberAppPassword.objects.filter(member=host).values_list("handle", flat=True).first()
    return handle or host.username


def invitations_report_days(*, days: int = 14) -> list[dict[str, Any]]:
    """Per UTC day, newest first: invitations sent by the relay and by hosts' own accounts, and
    opt-outs (from one host / from everyone). Four grouped queries."""
    since = timezone.now() - timedelta(days=days)
    rows: dict[Any, dict[str, Any]] = {}

    def row(day):
        return rows.setdefault(day, {"day": day, "relay": 0, "hosts": 0, "opt_out_host": 0, "opt_out_all": 0})

    sent = (Invitation.objects.filter(sent_at__gte=since).annotate(day=TruncDate("sent_at"))
            .values_list("day", "posted_by").annotate(n=Count("pk")).values_list("day", "posted_by", "n"))
    for day, posted_by, n in sent:
        row(day)["relay" if posted_by == "relay" else "hosts"] += n
    for model, key in ((InvitationDecline, "opt_out_host"), (InvitationOptOut, "opt_out_all")):
        for day, n in (model.objects.filter(created_at__gte=since).annotate(day=TruncDate("created_at"))
                       .values_list("day").annotate(n=Count("pk")).values_list("day", "n")):
            row(day)[key] += n
    return sorted(rows.values(), key=lambda r: r["day"], reverse=True)


def hosts_nearest_cap(*, limit: int = 20) -> list[dict[str, Any]]:
    """Hosts who invited in the last 24 hours, by the share of their daily cap they used."""
    since = timezone.now() - timedelta(days=1)
    used = dict(Invitation.objects.filter(created_at__gte=since).values_list("host_id")
                .annotate(n=Count("pk")).values_list("host_id", "n"))
    hosts = Member.objects.filter(pk__in=list(used)).only("pk", "username", "date_joined")
    report = []
    for host in hosts:
        cap = host_daily_cap(host=host)
        report.append({"host": host, "used": used[host.pk], "cap": cap,
                       "percent": round(100 * used[host.pk] / cap) if cap else 100})
    report.sort(key=lambda r: r["percent"], reverse=True)
    return report[:limit]
