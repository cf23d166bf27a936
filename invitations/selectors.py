"""Read-side queries for invitations."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from bluesky.models import BlueskyIdentity
from bluesky.selectors import member_did_query
from invitations import targets
from invitations.models import Invitation, InvitationBatch
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
        {"id": i.pk, "handle": i.recipient_handle, "reason": i.failure_reason, "code": i.failure_code,
         "retryable": i.retryable}
        for i in batch.invitations.filter(status=S.FAILED).order_by("pk")[:200]
    ]
    return {
        "batch": batch.pk, "total": total, "sent": sent, "failed": failed, "waiting": waiting,
        "accepted": counts.get(S.ACCEPTED, 0), "done": waiting == 0, "failures": failures,
    }


def invitation_for_landing(*, target: Target, token: str | None) -> Invitation | None:
    if not token or len(token) > 64:
        return None
    return Invitation.objects.select_related("host").filter(token=token, **targets.target_filter(target)).first()


def invitations_for_member(*, member: Member) -> list[Invitation]:
    """Invitations addressed to the member's connected Bluesky account (home page)."""
    did = member_did_query(member=member)
    if did is None:
        return []
    return list(
        Invitation.objects.filter(recipient_did__in=did, status__in=[S.SENT, S.ACCEPTED])
        .select_related("host", "event", "community")
        .order_by("-created_at")[:50]
    )


def invited_dids(*, target: Target) -> dict[str, str]:
    """DID -> status of everyone already invited to this target (the picker marks them)."""
    return dict(Invitation.objects.filter(**targets.target_filter(target)).values_list("recipient_did", "status"))


def host_handle_get(*, host: Member) -> str:
    """How the landing banner names the host: their Bluesky handle, else their username."""
    handle = BlueskyIdentity.objects.filter(member=host).values_list("handle", flat=True).first()
    return handle or str(host)
