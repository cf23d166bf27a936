"""Publishing state without a network: who gets a record queued, what a narrower OAuth grant
reports, the event form's place fields, deleting an event. (Writes themselves: test_records_peer.)"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bluesky.services import BlueskyOAuthService
from core.page_cache import _versions_renew
from elonara import atrecords, publishing, services
from elonara.models import RSVP, Event, PublishState
from elonara.services import rsvp_changed, upcoming_events_cache_clear
from tests.invitations.conftest import link_identity, make_member, random_did

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]


def make_event(host, **extra):
    start = timezone.now() + timedelta(days=2)
    return services.event_create(host=host, title="Quiz night", starts_at=start, ends_at=start + timedelta(hours=2),
                                 venue="The Crown", **extra)


def _publishing(callbacks):
    """The on-commit callbacks that queue a record write (the home page's cache drops, the event
    page's renewals, the counts' refresh and the answer's listeners are others)."""
    return [c for c in callbacks if c is not upcoming_events_cache_clear
            and getattr(c, "func", None) not in (_versions_renew, rsvp_changed.send)
            and not getattr(c, "__qualname__", "").startswith("task_on_commit.")]


def test_host_without_bluesky_account_publishes_nothing(django_capture_on_commit_callbacks):
    host = make_member("nobody")
    with django_capture_on_commit_callbacks() as callbacks:
        event = make_event(host)
    event.refresh_from_db()
    assert event.publish_state == PublishState.NONE and event.at_rkey == "" and _publishing(callbacks) == []
    member = make_member("guest")
    rsvp = services.rsvp_set(event=event, member=member, status=RSVP.Status.GOING)
    assert RSVP.objects.get(pk=rsvp.pk).publish_state == PublishState.NONE


def test_connected_host_gets_a_fixed_key_and_a_task_on_commit(django_capture_on_commit_callbacks):
    host = make_member("host")
    link_identity(member=host, did=random_did(), handle="host.test")
    with django_capture_on_commit_callbacks() as callbacks:
        event = make_event(host)
    event.refresh_from_db()
    assert event.publish_state == PublishState.PENDING and len(event.at_rkey) == 13
    assert len(_publishing(callbacks)) == 1  # the event's record; the host's own answer is no record
    host_answer = RSVP.objects.get(event=event, member=host)
    assert host_answer.status == RSVP.Status.GOING and host_answer.publish_state == PublishState.NONE
    rkey = event.at_rkey
    services.event_update(event=event, editor=host, title="Quiz night II")
    assert Event.objects.get(pk=event.pk).at_rkey == rkey  # the same record, updated in place


def test_a_grant_without_the_calendar_collections_fails_with_a_reason_before_any_request():
    host = make_member("host")
    # The PDS address is a closed loopback port: any request would fail differently.
    link_identity(member=host, did=random_did(), handle="host.test")
    event = make_event(host)
    outcome = publishing.event_publish(event_id=event.pk)
    event.refresh_from_db()
    assert outcome.state == PublishState.FAILED and event.publish_state == PublishState.FAILED
    assert "community.lexicon.calendar.event" in event.publish_error and "Reauthorize" in event.publish_error

    summary = BlueskyOAuthService.get_identity_for_member(member=host)
    assert "publishing your events to other Bluesky apps" in summary.missing_features
    client = Client()
    client.force_login(host)
    page = client.get(event.get_absolute_url()).content.decode()
    assert 'id="record-state"' in page and "failed" in page


def test_event_record_mapping():
    host = make_member("host")
    event = make_event(host, country="pt", locality="Porto", mode="", online_url="")
    record = atrecords.event_record(event=event)
    assert record["mode"] == "community.lexicon.calendar.event#inperson"
    assert record["locations"] == [{"$type": "community.lexicon.location.address", "country": "PT",
                                    "locality": "Porto", "name": "The Crown"}]
    assert "description" not in record and record["status"].endswith("#scheduled")
    services.event_cancel(event=event, actor=host)
    assert atrecords.event_record(event=Event.objects.get(pk=event.pk))["status"].endswith("#cancelled")


def test_country_must_be_two_letters():
    from elonara.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        make_event(make_member("host"), country="Portugal")


def test_event_form_takes_mode_and_address_and_delete_is_host_only():
    host = make_member("host")
    client = Client()
    client.force_login(host)
    response = client.post("/events/new/", {
        "title": "Walk", "starts_at": "2030-05-01T10:00", "ends_at": "2030-05-01T12:00", "time_zone": "Europe/Lisbon",
        "venue": "Monsanto", "mode": "inperson", "country": "PT", "locality": "Lisboa"})
    assert response.status_code == 302, response.content[:400]
    event = Event.objects.get(title="Walk")
    assert (event.mode, event.country, event.locality) == ("inperson", "PT", "Lisboa")

    other = Client()
    other.force_login(make_member("other"))
    assert other.post(f"/events/{event.pk}/delete/").status_code == 403
    assert client.get(f"/events/{event.pk}/delete/").status_code == 200
    assert client.post(f"/events/{event.pk}/delete/").status_code == 302
    assert not Event.objects.filter(pk=event.pk).exists()


def test_deleting_a_published_event_queues_its_record_and_rsvps_for_deletion(django_capture_on_commit_callbacks):
    host = make_member("host")
    link_identity(member=host, did=random_did(), handle="host.test")
    event = make_event(host)
    guest = make_member("guest")
    rsvp = services.rsvp_set(event=event, member=guest, status=RSVP.Status.GOING)
    RSVP.objects.filter(pk=rsvp.pk).update(at_rkey="3m5abcdefgh22")
    with django_capture_on_commit_callbacks() as callbacks:
        services.event_delete(event=Event.objects.get(pk=event.pk), actor=host)
    assert len(_publishing(callbacks)) == 2  # the event record and the RSVP record


def test_host_can_publish_again_after_a_failure(django_capture_on_commit_callbacks):
    host = make_member("host")
    link_identity(member=host, did=random_did(), handle="host.test")
    event = make_event(host)
    publishing.event_publish(event_id=event.pk)  # fails: the grant lacks the collection
    client = Client()
    client.force_login(host)
    assert "Try publishing again" in client.get(event.get_absolute_url()).content.decode()
    other = Client()
    other.force_login(make_member("other"))
    assert other.post(f"/events/{event.pk}/publish/").status_code == 403
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(f"/events/{event.pk}/publish/").status_code == 302
    assert len(_publishing(callbacks)) == 1
    event.refresh_from_db()
    assert event.publish_state == PublishState.PENDING and event.publish_attempts == 0
