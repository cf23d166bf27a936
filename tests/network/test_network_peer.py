"""Events made in another app, against the official PDS and App View on loopback.

An account that is not an Elonara member writes community.lexicon.calendar.event records straight
into its own repository (com.atproto.repo.createRecord with its app password, as another app
would). The consumer (`manage.py consume_firehose` in its own process) keeps them; members see
them on "Upcoming" when they have a reason to; a pasted at:// link shows one before the firehose
delivers it; a member's answer is an RSVP record in their own repository any app can read.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from bluesky.lexicon import validate_record
from elonara import atrecords
from elonara.models import PublishState
from network import services
from network.models import NetworkAnswer, NetworkEvent, NetworkRSVP
from tests.elonara.records_helpers import ConsumerProcess, OtherApp, connect_app_password, get_record, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

EVENT = atrecords.EVENT_NSID
RSVP = atrecords.RSVP_NSID

needs_shared_db = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the consumer process needs a database shared by processes (PostgreSQL)")


@pytest.fixture
def network_settings(peer_settings, peer):
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    return peer_settings


def _member(django_user_model, accounts, name: str):
    member = django_user_model.objects.create_user(username=f"{name}-here", password="pw-123456")
    connect_app_password(member, accounts[name])
    return member


def event_record(name: str, **extra) -> dict:
    start = timezone.now() + timedelta(days=4)
    record = {"$type": EVENT, "name": name, "createdAt": atrecords.at_datetime(timezone.now()),
              "startsAt": start.isoformat(timespec="seconds"),
              "endsAt": (start + timedelta(hours=2)).isoformat(timespec="seconds"),
              "mode": f"{EVENT}#hybrid", "description": "Bring a board.\nAll levels.",
              "locations": [{"$type": f"{EVENT}#uri", "uri": "https://meet.example/go", "name": "Video"},
                            {"$type": "community.lexicon.location.address", "country": "PT", "locality": "Porto"}]}
    record.update(extra)
    return record


def _names_on_upcoming(member) -> str:
    client = Client()
    client.force_login(member)
    return client.get("/upcoming/").content.decode()


@needs_shared_db
def test_an_event_written_in_another_app_shows_for_followers_and_follows_its_changes(
        peer, accounts, network_settings, django_user_model, tmp_path):
    # Follows on the network: alice -> bob, carol -> alice. bob is not a member here.
    alice = _member(django_user_model, accounts, "alice")
    carol = _member(django_user_model, accounts, "carol")
    assert services.member_follows_refresh(member=alice) >= 1
    services.member_follows_refresh(member=carol)
    bob_app = OtherApp(peer, accounts["bob"])
    consumer = ConsumerProcess(peer, log_path=str(tmp_path / "consumer.log")).start_synced(bob_app)
    try:
        created = bob_app.create(EVENT, event_record("Go night at the café"))
        event = wait_for(lambda: NetworkEvent.objects.filter(uri=created["uri"]).first(), what="network event")
        assert event.cid == created["cid"] and event.creator.did == accounts["bob"].did
        assert event.mode == "hybrid" and event.online_url == "https://meet.example/go" and event.place == "Porto, PT"
        assert "Go night at the café" in _names_on_upcoming(alice)
        assert "Go night at the café" not in _names_on_upcoming(carol)

        # The creator's profile comes from the App View (the task the consumer queued, run here).
        services.creator_profile_refresh(did=accounts["bob"].did)
        page = Client().get(event.get_absolute_url()).content.decode()
        assert f"@{accounts['bob'].handle}" in page and "made with another app" in page

        rkey = created["uri"].rsplit("/", 1)[1]
        updated = bob_app.put(EVENT, rkey, event_record("Go night, upstairs"))
        wait_for(lambda: NetworkEvent.objects.filter(uri=created["uri"], cid=updated["cid"]).exists(), what="update")
        assert "Go night, upstairs" in _names_on_upcoming(alice)

        # Malformed records and one far too long are dropped; the consumer goes on.
        # (A 10 MB one is refused by the PDS itself, 413; tests/network/test_network_events.py feeds
        # the consumer such a frame directly, as a relay carrying another server's record would.)
        bad = [bob_app.create(EVENT, {"$type": EVENT, "name": "No date", "createdAt": "yesterday"}),
               bob_app.create(EVENT, {"$type": EVENT, "createdAt": atrecords.at_datetime(timezone.now())}),
               bob_app.create(EVENT, event_record("Huge", description="x" * 200_000))]
        after = bob_app.create(EVENT, event_record("After the bad ones"))
        wait_for(lambda: NetworkEvent.objects.filter(uri=after["uri"]).exists(), what="a good one after bad ones")
        assert not NetworkEvent.objects.filter(uri__in=[b["uri"] for b in bad]).exists()
        assert NetworkEvent.objects.get(uri=created["uri"]).name == "Go night, upstairs"

        bob_app.delete(EVENT, rkey)
        wait_for(lambda: not NetworkEvent.objects.filter(uri=created["uri"]).exists(), what="delete")
        assert "Go night, upstairs" not in _names_on_upcoming(alice)
    finally:
        consumer.stop()
        bob_app.close()


def test_pasted_link_shows_the_event_and_going_writes_an_rsvp_record(
        peer, accounts, network_settings, django_user_model, django_capture_on_commit_callbacks):
    alice = _member(django_user_model, accounts, "alice")
    bob_app = OtherApp(peer, accounts["bob"])
    try:
        created = bob_app.create(EVENT, event_record("Pasted go night"))
    finally:
        bob_app.close()
    client = Client()
    client.force_login(alice)
    # The at:// link, with the handle instead of the DID: resolved, read from bob's PDS, shown.
    link = created["uri"].replace(accounts["bob"].did, accounts["bob"].handle)
    response = client.post("/network/paste/", {"link": link})
    event = NetworkEvent.objects.get(uri=created["uri"])
    assert response.status_code == 302 and response["Location"] == event.get_absolute_url()
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Pasted go night" in page and "Bring a board" in page and created["uri"] in page

    with django_capture_on_commit_callbacks(execute=False):
        client.post(event.get_absolute_url() + "rsvp/", {"status": "going"})
    rsvp = NetworkRSVP.objects.get(member=alice)
    assert rsvp.publish_state == PublishState.PENDING
    # What the worker runs (network.publish_rsvp).
    assert services.network_rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
    rsvp.refresh_from_db()
    rkey = atrecords.rsvp_rkey(member_id=alice.pk, event_uri=event.uri)
    assert rsvp.at_uri == f"at://{accounts['alice'].did}/{RSVP}/{rkey}"
    value = get_record(peer, rsvp.at_uri).raise_for_status().json()["value"]
    validate_record(RSVP, value)
    assert value["subject"] == {"uri": created["uri"], "cid": created["cid"]}
    assert value["status"] == f"{RSVP}#going"
    assert "(published on Bluesky)" in client.get(event.get_absolute_url()).content.decode()

    # Changing the answer overwrites the same record.
    with django_capture_on_commit_callbacks(execute=False):
        client.post(event.get_absolute_url() + "rsvp/", {"status": "maybe"})
    assert services.network_rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
    assert NetworkRSVP.objects.get(pk=rsvp.pk).at_uri == rsvp.at_uri
    assert get_record(peer, rsvp.at_uri).json()["value"]["status"] == f"{RSVP}#interested"

    # A link that names no event record, and one of a site that does not name the record.
    for bad, words in ((created["uri"].rsplit("/", 1)[0] + "/3zzzzzzzzzzz2", "does not exist"),
                       ("https://openmeet.net/events/go-night", "cannot be read here")):
        page = client.post("/network/paste/", {"link": bad}).content.decode()
        assert words in page and 'class="field-error"' in page


@needs_shared_db
def test_a_members_answer_survives_a_consumer_restart(peer, accounts, network_settings, django_user_model,
                                                      tmp_path, django_capture_on_commit_callbacks):
    alice = _member(django_user_model, accounts, "alice")
    bob_app = OtherApp(peer, accounts["bob"])
    log = str(tmp_path / "consumer.log")
    first = ConsumerProcess(peer, log_path=log).start_synced(bob_app)
    try:
        created = bob_app.create(EVENT, event_record("Answered go night"))
        event = wait_for(lambda: NetworkEvent.objects.filter(uri=created["uri"]).first(), what="network event")
        with django_capture_on_commit_callbacks(execute=False):
            rsvp = services.network_rsvp_set(event=event, member=alice, status="going")
        assert services.network_rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
        # carol, not a member, answers in another app: counted on the page.
        carol_app = OtherApp(peer, accounts["carol"])
        carol_app.create(RSVP, {"$type": RSVP, "subject": {"uri": created["uri"], "cid": created["cid"]},
                                "status": f"{RSVP}#going", "createdAt": atrecords.at_datetime(timezone.now())})
        carol_app.close()
        wait_for(lambda: NetworkAnswer.objects.filter(did=accounts["carol"].did).exists(), what="outside answer")
        first.kill()
        second = ConsumerProcess(peer, log_path=log).start()
        try:
            marker = bob_app.create(EVENT, event_record("Marker after restart"))
            wait_for(lambda: NetworkEvent.objects.filter(uri=marker["uri"]).exists(), what="reading again")
        finally:
            second.stop()
    finally:
        first.kill()
        bob_app.close()
    rsvp.refresh_from_db()
    assert rsvp.status == "going" and rsvp.publish_state == PublishState.PUBLISHED
    # Our own record read back is not an outside answer; carol's is counted once.
    assert list(NetworkAnswer.objects.values_list("did", flat=True)) == [accounts["carol"].did]
    event.refresh_from_db()
    assert event.going_count == 2
    assert "2 going" in Client().get(event.get_absolute_url()).content.decode()
