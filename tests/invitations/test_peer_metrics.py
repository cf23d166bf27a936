"""The metrics endpoint counts a sent invitation: a real post on the official PDS, then a scrape."""

from __future__ import annotations

import pytest
from django.test import Client

from bluesky import services as bluesky_services
from bluesky.graph import GraphProfile
from bluesky.models import WritesMode
from invitations import services
from invitations.models import Invitation
from tests.core.test_metrics import TOKEN, value
from tests.invitations.conftest import make_event, make_member
from tests.invitations.peer_helpers import configure_for_peer, posts_in_repo, purge_queue

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _settings(settings, peer):
    configure_for_peer(settings, peer)
    settings.INVITATIONS_PACING_ENABLED = False
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = ""


def scrape() -> str:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_count_a_sent_invitation(peer, accounts, django_capture_on_commit_callbacks):
    alice, bob = accounts["alice"], accounts["bob"]
    bluesky_services.writes_mode_set(mode=WritesMode.LEGACY)
    host = make_member("alice")
    bluesky_services.member_app_password_set(member=host, identifier=alice.handle, app_password=alice.app_password)
    event = make_event(host=host, title="Metrics picnic")
    before = scrape()

    # Queue it (no worker here: the send runs in this process, exactly as a worker runs it).
    purge_queue()
    with django_capture_on_commit_callbacks(execute=True):
        services.invitations_enqueue(
            host=host, target=event, message_template="",
            profiles=[GraphProfile(did=bob.did, handle=bob.handle, display_name="Bob", avatar_url="")])
    [invitation_id] = [c.args[0] for c in services.invitations_claim_due()]
    outcome = services.invitation_send(invitation_id=invitation_id)
    assert outcome.status == Invitation.Status.SENT
    rkey = Invitation.objects.get(pk=invitation_id).rkey
    assert rkey in posts_in_repo(peer, alice.did)

    after = scrape()
    assert value(after, "elonara_invitations_queued_total") == value(before, "elonara_invitations_queued_total") + 1
    assert value(after, "elonara_invitations_sent_total") == value(before, "elonara_invitations_sent_total") + 1
    assert value(after, "elonara_invitation_publish_lag_seconds_count") == \
        value(before, "elonara_invitation_publish_lag_seconds_count") + 1

    # A redelivered send of the same invitation posts nothing and counts nothing.
    services.invitation_send(invitation_id=invitation_id)
    assert value(scrape(), "elonara_invitations_sent_total") == value(after, "elonara_invitations_sent_total")
    purge_queue()  # the dispatch message no worker took
