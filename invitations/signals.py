"""Accepting invitations when the invitee RSVPs, joins, or connects Bluesky afterwards; renewing
the kept pages that show invitations (a batch's progress) and the posting account (pickers).

Adapters only (one service call each). The foundation's `rsvp_changed` / `community_joined` are
sent after commit, so the invitation update runs in its own short transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from bluesky.models import BlueskyIdentity
from core.page_cache import pages_changed
from elonara.models import RSVP, CommunityMembership
from invitations import answers
from invitations.models import BATCH_PROGRESS, POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID, Invitation

ACCEPTING_RSVP = {"going", "maybe"}


def on_rsvp_changed(sender: Any, rsvp: RSVP, **kwargs: Any) -> None:
    if str(rsvp.status) in ACCEPTING_RSVP:
        answers.invitation_accept_for_member(member=rsvp.member, target=rsvp.event)


def on_community_joined(sender: Any, membership: CommunityMembership, **kwargs: Any) -> None:
    answers.invitation_accept_for_member(member=membership.member, target=membership.community)


def on_invitation_saved(sender: Any, instance: Invitation, **kwargs: Any) -> None:
    # Its batch's progress shows it (its update()s: invitations.models.InvitationQuerySet).
    pages_changed(BATCH_PROGRESS, [instance.batch_id])


def on_posting_setup_changed(sender: Any, **kwargs: Any) -> None:
    # An admin flipped the writes mode or changed a relay account: pickers name the posting account.
    pages_changed(POSTING_ACCOUNTS, [POSTING_ACCOUNTS_ID])


def on_identity_saved(sender: Any, instance: BlueskyIdentity, **kwargs: Any) -> None:
    member = instance.member
    transaction.on_commit(lambda: answers.invitations_accept_existing(member=member))
