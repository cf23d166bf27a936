"""Where an invitation stands, and the one way it moves on.

Status moves forward only, enforced by conditional UPDATEs (`invitation_transition`), so two workers
holding the same invitation cannot both move it, and a redelivered task finds it already done:

    pending -> queued -> sending -> sent -> accepted | declined
                                 -> failed -> queued (only by "Retry failed", when retryable)
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from invitations.models import Invitation

S = Invitation.Status

TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.QUEUED, S.FAILED},
    S.QUEUED: {S.SENDING, S.FAILED},
    S.SENDING: {S.SENDING, S.SENT, S.FAILED},
    S.SENT: {S.ACCEPTED, S.DECLINED},
    S.FAILED: {S.QUEUED, S.ACCEPTED},
    S.ACCEPTED: set(),
    S.DECLINED: set(),
}


def invitation_transition(*, invitation_id: int, to: str, **fields: Any) -> bool:
    """Move one invitation to `to` if its current status allows it; atomic, race-free."""
    allowed_from = [src for src, targets_ in TRANSITIONS.items() if to in targets_]
    updated = Invitation.objects.filter(pk=invitation_id, status__in=allowed_from).update(
        status=to, updated_at=timezone.now(), **fields
    )
    return updated == 1
