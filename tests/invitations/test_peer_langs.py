"""An invitation in the language the host picked (issue 39), written by the official PDS and read
back as any client reads it: the post's `langs` is ["pt-BR"] and its date is in Portuguese."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from bluesky import clients
from bluesky import services as bluesky_services
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.models import WritesMode
from invitations import services, targets
from invitations.models import Invitation
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


def test_an_invitation_in_portuguese_is_read_back_with_its_langs(settings, peer, accounts, peer_consent):
    alice_acc, bob_acc, carol_acc = accounts["alice"], accounts["bob"], accounts["carol"]
    bluesky_services.writes_mode_set(mode=WritesMode.LEGACY)
    # As in test_peer_relay_mention: alice has no app password, so carol's relay account posts it.
    settings.BLUESKY_RELAY_IDENTIFIER, settings.BLUESKY_RELAY_APP_PASSWORD = carol_acc.handle, carol_acc.app_password
    host = make_member("alice")
    client = Client()
    client.force_login(host)
    connect_bluesky(client, peer_consent, alice_acc)
    event = make_event(host=host, title="Roda de samba")

    result = services.invitations_enqueue(host=host, target=event, profiles=[profile(bob_acc.handle, bob_acc.did)],
                                          message_template="", language="pt-br")
    assert result.batch.langs == "pt-BR"
    invitation = result.batch.invitations.get()
    services.invitation_send(invitation_id=invitation.pk, agent=BlueskyAgentFactory.make())
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT, invitation.failure_reason

    record = posts_in_repo(peer, carol_acc.did)[invitation.rkey]
    assert record["langs"] == ["pt-BR"]
    with translation.override("pt-br"):
        portuguese_date = targets.target_date_text(event)
    with translation.override("en"):
        english_date = targets.target_date_text(event)
    assert portuguese_date != english_date and portuguese_date in record["text"]
    # The relay's own wording, in Portuguese too (not only the date): no English sentence.
    assert "convida você para Roda de samba" in record["text"] and "invites you" not in record["text"]
