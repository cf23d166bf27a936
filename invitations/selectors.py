"""Read-side queries for invitations."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from invitations import targets
from invitations.models import Invitation, InvitationBatch

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


def invitation_for_landing(*, target: Any, token: str | None) -> Invitation | None:
    if not token or len(token) > 64:
        return None
    kind_filter = {"event": target} if targets.target_kind(target) == "event" else {"community": target}
    return Invitation.objects.select_related("host").filter(token=token, **kind_filter).first()


def invitations_for_member(*, member: Any) -> list[Invitation]:
    """Invitations addressed to the member's connected Bluesky account (home page)."""
    did = targets.member_did_subquery(member)
    if did is None:
        return []
    return list(
        Invitation.objects.filter(recipient_did__in=did, status__in=[S.SENT, S.ACCEPTED])
        .select_related("host", "event", "community")
        .order_by("-created_at")[:50]
    )


def invited_dids(*, target: Any) -> dict[str, str]:
    """DID -> status of everyone already invited to this target (the picker marks them)."""
    kind_filter = {"event": target} if targets.target_kind(target) == "event" else {"community": target}
    return dict(Invitation.objects.filter(**kind_filter).values_list("recipient_did", "status"))
