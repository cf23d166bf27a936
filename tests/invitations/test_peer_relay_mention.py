"""The relay's invitation post names the host as a mention too, written by the official PDS and
read back as any client reads it: "@bob.test @alice.test invites you to ...", both handles tappable
(mention facets at the right UTF-8 byte offsets, each to its DID)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bluesky import clients
from bluesky import services as bluesky_services
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.models import WritesMode
from bluesky.records import FACET_LINK, FACET_MENTION
from invitations import services
from invitations.models import Invitation
from members.models import Member
from tests.invitations.conftest import make_event, make_member, profile
from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky, posts_in_repo

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _peer_settings(settings, peer):
    configure_for_peer(settings, peer)
    settings.INVITATIONS_PACING_ENABLED = False
    clients.reset()
    yield
    clients.reset()


def _slice(text: str, facet: dict) -> str:
    return text.encode("utf-8")[facet["index"]["byteStart"]: facet["index"]["byteEnd"]].decode("utf-8")


def test_relay_post_mentions_recipient_and_host(settings, peer, accounts, peer_consent):
    alice_acc, bob_acc, carol_acc = accounts["alice"], accounts["bob"], accounts["carol"]
    bluesky_services.writes_mode_set(mode=WritesMode.LEGACY)
    # carol's account is the relay; alice (the host) connected with OAuth and has no app password,
    # so in legacy mode her invitation goes out from the relay, in Elonara's wording.
    settings.BLUESKY_RELAY_IDENTIFIER, settings.BLUESKY_RELAY_APP_PASSWORD = carol_acc.handle, carol_acc.app_password
    host = make_member("alice")
    Member.objects.filter(pk=host.pk).update(date_joined=timezone.now() - timedelta(days=365))
    host.refresh_from_db()
    client = Client()
    client.force_login(host)
    connect_bluesky(client, peer_consent, alice_acc)
    event = make_event(host=host, title="Fête au café 🎲")

    result = services.invitations_enqueue(host=host, target=event, profiles=[profile(bob_acc.handle, bob_acc.did)],
                                          message_template="")
    invitation = result.batch.invitations.get()
    services.invitation_send(invitation_id=invitation.pk, agent=BlueskyAgentFactory.make())
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT, invitation.failure_reason
    assert invitation.posted_by == "relay"

    record = posts_in_repo(peer, carol_acc.did)[invitation.rkey]
    text = record["text"]
    assert text.startswith(f"@{bob_acc.handle} @{alice_acc.handle} invites you to Fête au café 🎲")
    mentions = [(_slice(text, f), f["features"][0]["did"]) for f in record["facets"]
                if f["features"][0]["$type"] == FACET_MENTION]
    assert mentions == [(f"@{bob_acc.handle}", bob_acc.did), (f"@{alice_acc.handle}", alice_acc.did)]
    links = [f for f in record["facets"] if f["features"][0]["$type"] == FACET_LINK]
    assert len(links) == 1 and _slice(text, links[0]) == links[0]["features"][0]["uri"]
