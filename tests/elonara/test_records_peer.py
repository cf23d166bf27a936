"""Events and RSVPs as community.lexicon.calendar records, against the official PDS.

The publishing tasks' services are called the way the Celery worker calls them (the queued
message itself goes to the in-memory broker here); records are read back publicly, as any
AT Protocol app would read them.
"""

import time

import pytest
from django.db import connection
from django.test import Client

from bluesky.lexicon import validate_record
from elonara import atrecords, outside_answers, publishing, selectors, services
from elonara.models import RSVP, Event, ExternalRSVP, PublishState
from network.models import FirehoseCursor
from tests.elonara.records_helpers import (
    ConsumerProcess,
    OtherApp,
    connect_app_password,
    get_record,
    list_records,
    new_event,
    wait_for,
)

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

EVENT = atrecords.EVENT_NSID
RSVP_NSID = atrecords.RSVP_NSID


@pytest.fixture
def records_settings(peer_settings):
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    return peer_settings


@pytest.fixture
def host(django_user_model, accounts, records_settings):
    member = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(member, accounts["alice"])
    return member


@pytest.fixture
def guest(django_user_model, accounts, records_settings):
    member = django_user_model.objects.create_user(username="bob", password="pw-123456")
    connect_app_password(member, accounts["bob"])
    return member


def _published(event: Event) -> Event:
    outcome = publishing.event_publish(event_id=event.pk)
    assert outcome.state == PublishState.PUBLISHED, (outcome, Event.objects.get(pk=event.pk).publish_error)
    return Event.objects.get(pk=event.pk)


def test_event_record_written_updated_cancelled_and_deleted_in_place(peer, accounts, host):
    alice = accounts["alice"]
    event = new_event(host)
    event.refresh_from_db()
    # The key is fixed before the first write.
    assert event.publish_state == PublishState.PENDING and len(event.at_rkey) == 13
    rkey = event.at_rkey

    event = _published(event)
    assert event.at_uri == f"at://{alice.did}/{EVENT}/{rkey}" and event.at_cid
    stored = get_record(peer, event.at_uri).raise_for_status().json()
    value = stored["value"]
    validate_record(EVENT, value)
    assert stored["cid"] == event.at_cid
    assert value["name"] == "Picnic in the park" and value["description"] == "Bring food ☀️"
    assert value["status"] == f"{EVENT}#scheduled" and value["mode"] == f"{EVENT}#hybrid"
    assert value["startsAt"] == atrecords.at_datetime(event.starts_at)
    assert {"$type": "community.lexicon.location.address", "country": "PT", "locality": "Lisboa",
            "name": "Jardim da Estrela"} in value["locations"]
    assert {"$type": f"{EVENT}#uri", "uri": "https://meet.example/picnic", "name": "Online"} in value["locations"]
    assert value["uris"] == [{"uri": f"http://127.0.0.1:8000/events/{event.pk}/", "name": "Elonara"}]

    # Running the task again (a redelivered message) writes nothing new.
    assert _published(event).at_cid == event.at_cid
    assert [r["uri"] for r in list_records(peer, alice.did, EVENT)].count(event.at_uri) == 1

    # Another app adds a field of its own to our record: our next update keeps it.
    other = OtherApp(peer, alice)
    other.put(EVENT, rkey, {**value, "smokesignal:extra": "kept"})
    services.event_update(event=event, editor=host, title="Picnic, moved indoors", venue="")
    event = _published(Event.objects.get(pk=event.pk))
    value = get_record(peer, event.at_uri).json()["value"]
    assert value["name"] == "Picnic, moved indoors" and value["smokesignal:extra"] == "kept"
    assert value["mode"] == f"{EVENT}#virtual"
    assert event.at_uri.endswith(f"/{rkey}")

    # Cancelled in place: same record, status #cancelled.
    services.event_cancel(event=event, actor=host)
    event = _published(Event.objects.get(pk=event.pk))
    value = get_record(peer, event.at_uri).json()["value"]
    assert value["status"] == f"{EVENT}#cancelled"
    validate_record(EVENT, value)
    assert [r["uri"] for r in list_records(peer, alice.did, EVENT) if r["uri"] == event.at_uri] == [event.at_uri]

    # The host's page links to the record and says it is published.
    client = Client()
    client.force_login(host)
    page = client.get(event.get_absolute_url()).content.decode()
    assert event.at_uri in page and "published" in page

    # Deleted: the record goes too.
    uri = event.at_uri
    services.event_delete(event=event, actor=host)
    assert publishing.record_delete(member_id=host.pk, collection=EVENT, rkey=rkey).state == "deleted"
    assert get_record(peer, uri).status_code == 400
    other.close()


def test_swap_conflict_is_resolved_by_reading_again(peer, accounts, host):
    """A real InvalidSwap: another app rewrites the record between our read and our putRecord."""
    import httpx

    from bluesky.agents.legacy import LegacyBlueskyAgent
    from tests.bluesky.agents.conftest import http_client_with_transport

    alice = accounts["alice"]
    event = _published(new_event(host))
    other = OtherApp(peer, alice)
    value = get_record(peer, event.at_uri).json()["value"]
    puts = []

    class RaceTransport(httpx.BaseTransport):
        def __init__(self):
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request):
            if request.url.path.endswith("com.atproto.repo.putRecord"):
                puts.append(1)
                if len(puts) == 1:  # the other app writes first, so our swap CID is stale
                    other.put(EVENT, event.at_rkey, {**value, "other:note": "raced"})
            return self.inner.handle_request(request)

    agent = LegacyBlueskyAgent(http=http_client_with_transport(RaceTransport()))
    record = {**atrecords.event_record(event=event), "name": "Renamed"}
    result = agent.record_put_for_member(host, collection=EVENT, rkey=event.at_rkey, record=record,
                                         managed_keys=atrecords.EVENT_KEYS)
    assert result.success, result
    assert len(puts) == 2  # one refused swap, one write after reading again
    stored = get_record(peer, event.at_uri).json()["value"]
    assert stored["name"] == "Renamed" and stored["other:note"] == "raced"
    other.close()


def test_member_rsvp_record_written_and_overwritten(peer, accounts, host, guest):
    bob = accounts["bob"]
    event = _published(new_event(host))
    rsvp = services.rsvp_set(event=event, member=guest, status=RSVP.Status.GOING)
    assert RSVP.objects.get(pk=rsvp.pk).publish_state == PublishState.PENDING
    assert publishing.rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
    rsvp.refresh_from_db()
    rkey = atrecords.rsvp_rkey(member_id=guest.pk, event_uri=event.at_uri)
    assert rsvp.at_uri == f"at://{bob.did}/{RSVP_NSID}/{rkey}"
    value = get_record(peer, rsvp.at_uri).raise_for_status().json()["value"]
    validate_record(RSVP_NSID, value)
    assert value["subject"] == {"uri": event.at_uri, "cid": event.at_cid}
    assert value["status"] == f"{RSVP_NSID}#going"

    services.rsvp_set(event=event, member=guest, status=RSVP.Status.MAYBE)
    assert publishing.rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.PUBLISHED
    # One record for this event (the peer is shared: other tests' records may be there too).
    records = [r for r in list_records(peer, bob.did, RSVP_NSID) if r["value"]["subject"]["uri"] == event.at_uri]
    assert [r["uri"] for r in records] == [rsvp.at_uri]
    assert records[0]["value"]["status"] == f"{RSVP_NSID}#interested"


def test_member_without_connection_still_rsvps_locally(django_user_model, host, records_settings):
    event = _published(new_event(host))
    carol = django_user_model.objects.create_user(username="carol", password="pw-123456")
    rsvp = services.rsvp_set(event=event, member=carol, status=RSVP.Status.GOING)
    rsvp.refresh_from_db()
    assert rsvp.status == RSVP.Status.GOING and rsvp.publish_state == PublishState.NONE


def _rsvp_from(event: Event, status: str) -> dict:
    return {"$type": RSVP_NSID, "subject": {"uri": event.at_uri, "cid": event.at_cid},
            "status": f"{RSVP_NSID}#{status}", "createdAt": "2026-11-26T10:00:00.000Z"}


needs_shared_db = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the consumer process needs a database shared by processes (PostgreSQL)")


@needs_shared_db
def test_rsvp_written_in_another_app_shows_up_through_the_consumer(peer, accounts, host, guest, tmp_path):
    carol = accounts["carol"]
    event = _published(new_event(host))
    other = OtherApp(peer, carol)
    consumer = ConsumerProcess(peer, log_path=str(tmp_path / "consumer.log")).start_synced(other)
    try:
        # A member's own record echoing back changes nothing.
        rsvp = services.rsvp_set(event=event, member=guest, status=RSVP.Status.GOING)
        publishing.rsvp_publish(rsvp_id=rsvp.pk)
        # carol is not a member: she answers in another app, in her own repository.
        created = other.create(RSVP_NSID, _rsvp_from(event, "going"))
        row = wait_for(lambda: ExternalRSVP.objects.filter(uri=created["uri"]).first(), what="outside RSVP")
        assert row.did == carol.did and row.status == ExternalRSVP.Status.GOING and row.cid == created["cid"]
        # The handle is looked up by a worker task, never by the consumer; run that task's service here.
        outside_answers.outside_rsvp_handles_resolve(ids=[row.pk])
        assert ExternalRSVP.objects.get(pk=row.pk).handle == carol.handle
        assert not ExternalRSVP.objects.filter(did=accounts["bob"].did).exists()
        assert RSVP.objects.get(pk=rsvp.pk).status == RSVP.Status.GOING

        page = Client().get(event.get_absolute_url()).content.decode()
        assert f"@{carol.handle}" in page and f"https://bsky.app/profile/{carol.did}" in page
        assert "Answers from other Bluesky apps" in page
        # Never counted among members (the host, going to their own event, leads the list).
        going = selectors.event_attendees_by_status(event=event)[RSVP.Status.GOING]
        assert [r.member_id for r in going] == [host.pk, guest.pk]

        # bob, a member, answers in another app: it is his answer here (not an outside one).
        bob_app = OtherApp(peer, accounts["bob"])
        bob_app.create(RSVP_NSID, _rsvp_from(event, "notgoing"))
        bob_app.close()
        wait_for(lambda: RSVP.objects.get(pk=rsvp.pk).status == RSVP.Status.NOT_GOING, what="member's answer")
        assert not ExternalRSVP.objects.filter(did=accounts["bob"].did).exists()
        page = Client().get(event.get_absolute_url()).content.decode()
        attendees = page[page.index('id="attendees"'):page.index('id="outside-rsvps"')]
        assert "Not going (1)" in attendees and guest.name in attendees

        # She changes her answer, then deletes it.
        rkey = created["uri"].rsplit("/", 1)[-1]
        other.put(RSVP_NSID, rkey, _rsvp_from(event, "notgoing"))
        wait_for(lambda: ExternalRSVP.objects.get(pk=row.pk).status == ExternalRSVP.Status.NOT_GOING, what="update")
        other.delete(RSVP_NSID, rkey)
        wait_for(lambda: not ExternalRSVP.objects.filter(pk=row.pk).exists(), what="delete")
        assert f"@{carol.handle}" not in Client().get(event.get_absolute_url()).content.decode()
    finally:
        consumer.stop()
        other.close()


@needs_shared_db
def test_consumer_killed_mid_stream_resumes_without_loss_or_duplicates(peer, accounts, host, tmp_path):
    carol = accounts["carol"]
    # One event per answer: an account keeps one outside answer per event (the newest wins).
    events = [_published(new_event(host)) for _ in range(6)]
    other = OtherApp(peer, carol)
    log = str(tmp_path / "consumer.log")
    first = ConsumerProcess(peer, log_path=log).start_synced(other)
    uris = []

    def answer(n: int) -> None:
        # Most of the stream is other collections, as on the real network.
        other.create("app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": f"post {n}",
                                            "createdAt": "2026-11-26T10:00:00.000Z"})
        uris.append(other.create(RSVP_NSID, _rsvp_from(events[n], "going"))["uri"])

    try:
        answer(0)
        answer(1)
        wait_for(lambda: ExternalRSVP.objects.count() == 2, what="the first answers")
        answer(2)
        first.kill()  # killed mid-stream: the third answer may or may not have been applied
        for n in range(3, 6):
            answer(n)  # written while no consumer runs
        # One changes its answer: a replay must not bring back the old one.
        other.put(RSVP_NSID, uris[1].rsplit("/", 1)[-1], _rsvp_from(events[1], "interested"))
        assert ExternalRSVP.objects.count() <= 3

        second = ConsumerProcess(peer, log_path=log).start()
        try:
            wait_for(lambda: ExternalRSVP.objects.count() == 6 and ExternalRSVP.objects.filter(
                uri=uris[1], status=ExternalRSVP.Status.INTERESTED).exists(), what="every answer after restart")
            time.sleep(1.0)  # anything replayed twice would show now
        finally:
            assert second.stop() is not None
    finally:
        first.kill()
        other.close()
    assert sorted(ExternalRSVP.objects.values_list("uri", flat=True)) == sorted(uris)
    assert ExternalRSVP.objects.filter(status=ExternalRSVP.Status.GOING).count() == 5
    assert FirehoseCursor.objects.get(source=peer.pds_url.rstrip("/")).outdated_at is None


def test_oauth_host_publishes_and_a_narrower_grant_says_what_it_cannot(peer, accounts, peer_consent, settings):
    """Through the OAuth agent (DPoP session, the default scope asks for both collections); a member
    who granted only posting sees what Elonara cannot do and their answer fails with the reason."""
    from django.urls import reverse

    from bluesky import services as bluesky_services
    from bluesky.models import WritesMode
    from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky

    configure_for_peer(settings, peer)
    settings.INVITATIONS_PACING_ENABLED = False
    bluesky_services.writes_mode_set(mode=WritesMode.OAUTH)
    alice, carol = accounts["alice"], accounts["carol"]
    from tests.invitations.conftest import make_member

    host = make_member("alice")
    client = Client()
    client.force_login(host)
    connect_bluesky(client, peer_consent, alice)
    event = _published(new_event(host, title="OAuth picnic"))
    assert event.at_uri.startswith(f"at://{alice.did}/{EVENT}/")
    value = get_record(peer, event.at_uri).raise_for_status().json()["value"]
    assert value["name"] == "OAuth picnic"
    validate_record(EVENT, value)

    settings.BLUESKY_OAUTH_SCOPE = "atproto repo:app.bsky.feed.post?action=create"
    member = make_member("carol")
    member_client = Client()
    member_client.force_login(member)
    connect_bluesky(member_client, peer_consent, carol)
    page = member_client.get(reverse("members:profile", args=[member.username])).content.decode()
    assert "publishing your RSVPs to other Bluesky apps" in page
    rsvp = services.rsvp_set(event=event, member=member, status=RSVP.Status.GOING)
    assert publishing.rsvp_publish(rsvp_id=rsvp.pk).state == PublishState.FAILED
    rsvp.refresh_from_db()
    assert "Reauthorize" in rsvp.publish_error and rsvp.at_uri == ""
    assert "not published on Bluesky" in member_client.get(event.get_absolute_url()).content.decode()

    services.event_delete(event=event, actor=host)
    assert publishing.record_delete(member_id=host.pk, collection=EVENT, rkey=event.at_rkey).state == "deleted"
    assert get_record(peer, event.at_uri).status_code == 400


@pytest.mark.services
def test_publishing_runs_in_the_celery_worker_paced_by_the_write_budget(peer, accounts, host, guest, tmp_path,
                                                                        settings):
    """The pages queue the tasks on commit; a real worker (pacing on, Redis budget) writes them."""
    from tests.celery_worker import celery_worker
    from tests.celery_worker import wait_for as worker_wait
    from tests.invitations.peer_helpers import purge_queue, worker_env

    settings.INVITATIONS_PACING_ENABLED = True
    purge_queue()
    host_client, guest_client = Client(), Client()
    host_client.force_login(host)
    guest_client.force_login(guest)
    env = worker_env(peer, INVITATIONS_PACING_ENABLED="true", ELONARA_PUBLIC_URL="http://127.0.0.1:8000")
    with celery_worker(extra_env=env, log_path=tmp_path / "worker.log"):
        response = host_client.post("/events/new/", {
            "title": "Worker picnic", "starts_at": "2030-05-01T10:00", "ends_at": "2030-05-01T12:00",
            "time_zone": "Europe/Lisbon", "venue": "Parque", "country": "PT", "locality": "Lisboa"})
        assert response.status_code == 302
        event = Event.objects.get(title="Worker picnic")
        event = worker_wait(lambda: Event.objects.filter(pk=event.pk, publish_state=PublishState.PUBLISHED).first(),
                            timeout=60)
        guest_client.post(f"/events/{event.pk}/rsvp/", {"status": "going"})
        rsvp = worker_wait(lambda: RSVP.objects.filter(event=event, member=guest,
                                                       publish_state=PublishState.PUBLISHED).first(), timeout=60)
    assert get_record(peer, event.at_uri).json()["value"]["name"] == "Worker picnic"
    assert get_record(peer, rsvp.at_uri).json()["value"]["subject"]["uri"] == event.at_uri
    page = host_client.get(event.get_absolute_url()).content.decode()
    assert event.at_uri in page and "published" in page and "published on Bluesky" in \
        guest_client.get(event.get_absolute_url()).content.decode()
