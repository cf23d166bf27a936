"""The event's rules hold for answers written in another app (issue 32), end to end: a member writes
a community.lexicon.calendar.rsvp record in their own repository on the official PDS, the real
consumer (`manage.py consume_firehose`, its own process) reads it, and the outcome is what the
page would have given: ask to join, declined stays declined, the seat limit, the waiting list's
order and promotion; and an answer written before its author joined, adopted at join."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from bluesky.models import BlueskyIdentity
from bluesky.services import did_linked
from elonara import publishing, selectors, services
from elonara.models import RSVP, Event, ExternalRSVP, PublishState
from tests.elonara.records_helpers import ConsumerProcess, OtherApp, connect_app_password, new_event, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="the consumer process needs a database shared by processes (PostgreSQL)")]
NSID = "community.lexicon.calendar.rsvp"


@pytest.fixture
def records_settings(peer_settings):
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    return peer_settings


def _published(event: Event) -> Event:
    assert publishing.event_publish(event_id=event.pk).state == PublishState.PUBLISHED
    return Event.objects.get(pk=event.pk)


def _answer(event: Event, status: str) -> dict:
    return {"$type": NSID, "subject": {"uri": event.at_uri, "cid": event.at_cid},
            "status": f"{NSID}#{status}", "createdAt": "2026-12-07T10:00:00.000Z"}


def _status(event: Event, member) -> str:
    return RSVP.objects.filter(event=event, member=member).values_list("status", flat=True).first() or ""


def test_records_written_in_another_app_follow_the_events_rules(peer, accounts, records_settings,
                                                                django_user_model, tmp_path):
    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(host, accounts["alice"])
    bob = django_user_model.objects.create_user(username="bob", password="pw-123456")
    connect_app_password(bob, accounts["bob"])
    dan, eve = (django_user_model.objects.create_user(username=n, password="pw-123456") for n in ("dan", "eve"))
    asking = _published(new_event(host, title="Supper club", requires_approval=True))
    small = _published(new_event(host, title="Boat trip", capacity=2))  # the host's seat and one more
    bob_app, carol_app = OtherApp(peer, accounts["bob"]), OtherApp(peer, accounts["carol"])
    consumer = ConsumerProcess(peer, log_path=str(tmp_path / "consumer.log")).start_synced(carol_app)

    def carol_marks(event: Event, status: str) -> None:
        """carol (not a member) answers after bob: once her answer is read, so is every frame before."""
        created = carol_app.create(NSID, _answer(event, status))
        wait_for(lambda: ExternalRSVP.objects.filter(uri=created["uri"]).exists(), what="carol's answer")

    try:
        # Ask to join: bob's "going" from another app is a request, and his panel says why.
        going = bob_app.create(NSID, _answer(asking, "going"))
        wait_for(lambda: _status(asking, bob), what="bob's answer")
        rsvp = RSVP.objects.get(event=asking, member=bob)
        assert (rsvp.status, rsvp.wanted_status, rsvp.network_status) == ("requested", "going", "going")
        client = Client()
        client.force_login(bob)
        assert "You answered Going in another app; the host approves requests" in \
            client.get(asking.get_absolute_url()).content.decode()

        # Declined stays declined, even through "not going" then "going" in the other app.
        services.rsvp_decline(event=asking, actor=host, rsvp_id=rsvp.pk)
        rkey = going["uri"].rsplit("/", 1)[-1]
        bob_app.put(NSID, rkey, _answer(asking, "notgoing"))
        bob_app.put(NSID, rkey, _answer(asking, "going"))
        carol_marks(asking, "going")
        assert _status(asking, bob) == "declined"
        assert not selectors.event_requests(event=asking).exists()

        # Seat limit and the waiting list's order: dan holds the seat (page), bob's record waits,
        # eve (page) waits behind him; dan leaves and the seat goes to bob, the first in line.
        services.rsvp_set(event=small, member=dan, status="going")
        bob_app.create(NSID, _answer(small, "going"))
        wait_for(lambda: _status(small, bob), what="bob's answer to the boat trip")
        assert _status(small, bob) == "waitlisted"
        services.rsvp_set(event=small, member=eve, status="going")
        assert [r.member for r in selectors.event_waitlist(event=small)] == [bob, eve]
        services.rsvp_set(event=small, member=dan, status="not_going")
        assert (_status(small, bob), _status(small, eve)) == ("going", "waitlisted")
        assert selectors.event_seats_taken(event=small) == 2  # the host and one

        # Adoption at join: carol answered "going" before she was a member; the seat is taken, so
        # joining puts her in line behind eve, not in a seat.
        carol_marks(small, "going")
        carol = django_user_model.objects.create_user(username="carol", password="pw-123456")
        # What connecting her Bluesky account (or signing in with it) announces once committed.
        did_linked.send(sender=BlueskyIdentity, member_id=carol.pk, did=accounts["carol"].did)
        assert _status(small, carol) == "waitlisted"
        assert [r.member for r in selectors.event_waitlist(event=small)] == [eve, carol]
        assert selectors.event_seats_taken(event=small) == 2  # the host and one
    finally:
        consumer.stop()
        bob_app.close()
        carol_app.close()
