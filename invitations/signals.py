"""Accepting invitations when the invitee RSVPs, joins, or connects Bluesky afterwards. (The kept
pages showing invitations and the posting account are renewed by the pages app's table.)

Adapters only (one service call each). The foundation's `rsvp_changed` / `community_joined` are
sent after commit, so the invitation update runs in its own short transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from bluesky.models import BlueskyIdentity
from elonara.models import RSVP, CommunityMembership
from invitations import answers

ACCEPTING_RSVP = {"going", "maybe"}


def on_rsvp_changed(sender: Any, rsvp: RSVP, **kwargs: Any) -> None:
    if str(rsvp.status) in ACCEPTING_RSVP:
        answers.invitation_accept_for_member(member=rsvp.member, target=rsvp.event)


def on_community_joined(sender: Any, membership: CommunityMembership, **kwargs: Any) -> None:
    answers.invitation_accept_for_member(member=membership.member, target=membership.community)


def on_identity_saved(sender: Any, instance: BlueskyIdentity, **kwargs: Any) -> None:
    member = instance.member
    transaction.on_commit(lambda: answers.invitations_accept_existing(member=member))
