"""What invitees do with an invitation: accept it (by answering or joining), decline it, or
stop invitations (from this host or from everyone)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from bluesky.selectors import member_did_get
from core import metrics
from invitations import targets
from invitations.errors import InvitationError
from invitations.models import Invitation, InvitationDecline, InvitationOptOut
from invitations.states import invitation_transition
from invitations.targets import Target
from members.models import Member

S = Invitation.Status

def invitation_landing_opened(*, invitation: Invitation) -> bool:
    """Mark the invitation's landing page opened, once (the first time counts; the host's figures).
    One conditional update: later and concurrent opens change nothing."""
    if invitation.opened_at is not None:
        return False
    return bool(Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(opened_at=timezone.now()))


def invitation_accept_for_member(*, member: Member, target: Target) -> int:
    """The member RSVPed or joined: their invitations to this target (by their Bluesky DID) are accepted."""
    did = member_did_get(member=member)
    if not did:
        return 0
    accepted = Invitation.objects.filter(
        **targets.target_filter(target), recipient_did=did, status__in=[S.SENT, S.FAILED]
    ).update(status=S.ACCEPTED, accepted_at=timezone.now(), accepted_by=member, updated_at=timezone.now())
    return accepted


def invitations_accept_existing(*, member: Member) -> int:
    """After connecting Bluesky: accept invitations to targets the member already RSVPed/joined."""
    did = member_did_get(member=member)
    if not did:
        return 0
    accepted = 0
    for invitation in Invitation.objects.filter(recipient_did=did, status__in=[S.SENT, S.FAILED]).select_related(
        "event", "community"
    ):
        if targets.member_is_in(invitation.target, member=member):
            accepted += invitation_accept_for_member(member=member, target=invitation.target)
    return accepted


def invitation_decline(*, member: Member, token: str) -> Invitation:
    """The invitee declines: this invitation is declined and their DID is never invited by this host again.

    Only the invitee can decline (their connected Bluesky DID must be the recipient's): the link is in
    a public post, so holding the token proves nothing.
    """
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None:
        raise InvitationError(code="not_found", message=gettext("This invitation does not exist."))
    if member_did_get(member=member) != invitation.recipient_did:
        raise InvitationError(code="not_recipient",
                              message=gettext("Only the invited person can decline this invitation."))
    with transaction.atomic():
        invitation_transition(invitation_id=invitation.pk, to=S.DECLINED)
        InvitationDecline.objects.get_or_create(host=invitation.host, recipient_did=invitation.recipient_did)
    invitation.refresh_from_db()
    return invitation


def invitation_opt_out(*, did: str, token: str, scope: str) -> Invitation:
    """Store an opt-out for a DID the caller has PROVEN (a Bluesky sign-in, see the stop views):
    `scope` "host" (no more invitations from the host of this invitation) or "all" (from anyone on
    Elonara). Nothing else about the person is stored. Their pending invitation to this target, if
    any, is declined; queued ones are skipped when their turn comes."""
    if scope not in ("host", "all"):
        raise InvitationError(code="invalid_request", message=gettext("Choose who should stop inviting you."))
    invitation = Invitation.objects.select_related("host").filter(token=token).first()
    if invitation is None:
        raise InvitationError(code="not_found", message=gettext("This invitation does not exist."))
    with transaction.atomic():
        if scope == "all":
            InvitationOptOut.objects.get_or_create(recipient_did=did)
        else:
            InvitationDecline.objects.get_or_create(host=invitation.host, recipient_did=did)
        if invitation.recipient_did == did:
            invitation_transition(invitation_id=invitation.pk, to=S.DECLINED)
    metrics.invitation_opted_out(scope)
    invitation.refresh_from_db()
    return invitation
