"""Hosting against the official PDS and App View: an "ask to join" answer is written as the
member's RSVP record only once approved (and a promotion from the waiting list writes it too);
a co-host invites their own followers from their own account, under their own caps."""

from __future__ import annotations

import pytest
from django.test import Client

from bluesky import clients
from bluesky import services as bluesky_services
from bluesky.models import WritesMode
from elonara import atrecords, publishing, services
from elonara.models import RSVP, Event, PublishState
from invitations import limits as invitation_limits
from invitations import services as invitation_services
from invitations.models import Invitation
from tests.elonara.records_helpers import connect_app_password, list_records, new_event
from tests.invitations.conftest import make_member
from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky, posts_in_repo

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]
RSVP_NSID = atrecords.RSVP_NSID


@pytest.fixture
def records_settings(peer_settings):
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    return peer_settings


def _rsvp_records_for(peer, did: str, event: Event) -> list[dict]:
    return [r for r in list_records(peer, did, RSVP_NSID) if r["value"]["subject"]["uri"] == event.at_uri]


def test_approval_holds_the_rsvp_record_until_approved(peer, accounts, records_settings, django_user_model):
    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(host, accounts["alice"])
    guest = django_user_model.objects.create_user(username="bob", password="pw-123456")
    connect_app_password(guest, accounts["bob"])
    waiting = django_user_model.objects.create_user(username="carol", password="pw-123456")
    connect_app_password(waiting, accounts["carol"])
    event = new_event(host, requires_approval=True, capacity=2)  # the host's seat and one more
    assert publishing.event_publish(event_id=event.pk).state == PublishState.PUBLISHED
    event = Event.objects.get(pk=event.pk)

    rsvp = services.rsvp_set(event=event, member=guest, status="going")
    assert rsvp.status == "requested" and RSVP.objects.get(pk=rsvp.pk).publish_state == ""
    # Even a task run for it (a stale message) writes nothing while it waits.
    assert publishing.rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.NONE
    assert _rsvp_records_for(peer, accounts["bob"].did, event) == []

    services.rsvp_approve(event=event, actor=host, rsvp_id=rsvp.pk)
    assert RSVP.objects.get(pk=rsvp.pk).publish_state == PublishState.PENDING
    assert publishing.rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
    [record] = _rsvp_records_for(peer, accounts["bob"].did, event)
    assert record["value"]["status"] == f"{RSVP_NSID}#going"

    # carol is approved into a full event: the waiting list, still no record; a freed seat writes it.
    asked = services.rsvp_set(event=event, member=waiting, status="going")
    assert services.rsvp_approve(event=event, actor=host, rsvp_id=asked.pk).status == "waitlisted"
    assert _rsvp_records_for(peer, accounts["carol"].did, event) == []
    services.rsvp_set(event=event, member=guest, status="not_going")
    assert RSVP.objects.get(pk=asked.pk).status == "going"
    assert publishing.rsvp_publish(rsvp_id=asked.pk).state == PublishState.PUBLISHED
    [record] = _rsvp_records_for(peer, accounts["carol"].did, event)
    assert record["value"]["status"] == f"{RSVP_NSID}#going"


def test_a_cohost_invites_their_own_followers_from_their_own_account(settings, peer, accounts, peer_consent):
    configure_for_peer(settings, peer)
    settings.INVITATIONS_PACING_ENABLED = False
    clients.reset()
    bluesky_services.writes_mode_set(mode=WritesMode.OAUTH)  # posts through the co-host's OAuth grant
    alice_acc, carol_acc = accounts["alice"], accounts["carol"]
    host = make_member("host")  # no Bluesky account at all: the co-host brings theirs
    event = new_event(host, title="Weekly Go night")
    cohost = make_member("alice")
    services.event_cohost_add(event=event, actor=host, member=cohost)
    client = Client()
    client.force_login(cohost)
    connect_bluesky(client, peer_consent, alice_acc)

    assert "Invite from Bluesky" in client.get(event.get_absolute_url()).content.decode()
    followers = client.get(f"/api/invitations/event/{event.pk}/graph/followers/").json()
    assert carol_acc.did in {p["did"] for p in followers["profiles"]}  # carol follows alice (seeded)
    before = invitation_limits.invitation_daily_remaining(host=cohost)
    created = client.post(f"/api/invitations/event/{event.pk}/", {"dids": [carol_acc.did]},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    invitation = Invitation.objects.get(event=event)
    assert invitation.host == cohost
    assert invitation_limits.invitation_daily_remaining(host=cohost) == before - 1  # the co-host's own cap

    invitation_services.invitation_send(invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT, invitation.failure_reason
    post = posts_in_repo(peer, alice_acc.did)[invitation.rkey]  # written in the co-host's repository
    assert any(f["features"][0].get("did") == carol_acc.did for f in post["facets"])

    # Someone who is neither host nor co-host is refused.
    stranger = make_member("stranger")
    client.force_login(stranger)
    assert client.get(f"/invitations/event/{event.pk}/invite/").status_code == 404
    clients.reset()
