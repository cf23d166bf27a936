"""A failed announcement: the host's "Try again" on the event page (the same post, through the same
service and pipeline); the events API says where the announcement stands and takes the `announce`
box when publishing an event or a series."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bluesky import pipeline
from bluesky.models import MemberAppPassword, RecordWrite
from elonara import announcements, services
from elonara.models import Event, EventSeries, PublishState
from members import api_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]


@pytest.fixture
def host(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-123456")


def _with_app_password(member) -> None:
    MemberAppPassword.objects.create(member=member, identifier="alice.test", handle="alice.test",
                                     did="did:plc:alicealicealicealice", app_password="abcd-efgh-ijkl-mnop")


def _signed_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def _failed_announcement(host) -> Event:
    """Announced, then failed through the pipeline's own run: the host's app password was removed."""
    _with_app_password(host)
    event = services.event_create(host=host, title="Walk", starts_at=timezone.now() + timedelta(days=2),
                                  ends_at=timezone.now() + timedelta(days=2, hours=1), venue="Park")
    assert announcements.announcement_choose(event=event, host=host, wanted=True)
    MemberAppPassword.objects.filter(member=host).delete()
    job = RecordWrite.objects.get(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk)
    assert pipeline.record_write_run(token=job.token) == PublishState.FAILED
    event.refresh_from_db()
    assert event.announce_state == PublishState.FAILED
    return event


def test_the_host_tries_again_and_the_same_post_is_queued(host, django_user_model):
    event = _failed_announcement(host)
    rkey = event.announce_rkey
    page = _signed_in(host).get(event.get_absolute_url()).content.decode()
    assert 'id="announcement-retry"' in page and "Try again" in page
    guest = django_user_model.objects.create_user(username="guest", password="pw-123456")
    assert _signed_in(guest).post(f"/events/{event.pk}/announcement/retry/").status_code == 403

    # Still no account of theirs: said why, nothing queued.
    answer = _signed_in(host).post(f"/events/{event.pk}/announcement/retry/", follow=True)
    assert announcements.NO_ACCOUNT_REASON in answer.content.decode()
    assert Event.objects.get(pk=event.pk).announce_state == PublishState.FAILED
    assert not RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE).exists()

    _with_app_password(host)
    answer = _signed_in(host).post(f"/events/{event.pk}/announcement/retry/", follow=True)
    page = answer.content.decode()
    assert "Posting the announcement on Bluesky again." in page and "Elonara is posting the announcement" in page
    event.refresh_from_db()
    assert event.announce_state == PublishState.PENDING and event.announce_error == ""
    assert event.announce_rkey == rkey  # the same record key: never two posts
    job = RecordWrite.objects.get(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk)
    assert job.attempts == 0
    # Asked again while it is being posted: nothing more.
    assert not announcements.announcement_retry(event=event, actor=host)
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE).count() == 1


def _bearer(member, permissions=("read", "events")) -> dict[str, str]:
    created = api_tokens.api_token_create(member=member, name="test", permissions=list(permissions))
    answer = Client().post("/api/v1/auth/token/", {"api_token": created.secret}, content_type="application/json")
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access_token']}"}


def _new_event(**extra) -> dict:
    start = timezone.now() + timedelta(days=4)
    return {"title": "Lantern walk", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "venue": "Park", **extra}


def test_the_api_takes_the_box_and_says_where_the_announcement_stands(host, django_user_model):
    client = Client()
    refused = client.post("/api/v1/events/", _new_event(announce=True), content_type="application/json",
                          **_bearer(host))
    assert refused.status_code == 400 and refused.json()["message"] == announcements.NO_ACCOUNT_REASON
    assert not Event.objects.exists()  # refused before anything was written

    _with_app_password(host)
    made = client.post("/api/v1/events/", _new_event(announce=True), content_type="application/json",
                       **_bearer(host))
    assert made.status_code == 201, made.content
    assert made.json()["announcement"] == {"state": "pending", "uri": "", "reason": ""}
    event = Event.objects.get(pk=made.json()["id"])
    assert event.announce_wanted is True and event.host == host
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk).exists()
    quiet = client.post("/api/v1/events/", _new_event(title="Quiet walk", language="ja"),
                        content_type="application/json", **_bearer(host))
    assert quiet.json()["announcement"]["state"] == "none" and quiet.json()["language"] == "ja"
    assert Event.objects.get(pk=quiet.json()["id"]).announce_wanted is False
    assert client.post("/api/v1/events/", _new_event(), content_type="application/json",
                       **_bearer(host, ["read"])).status_code == 403

    guest = django_user_model.objects.create_user(username="guest", password="pw-123456")
    Event.objects.filter(pk=event.pk).update(announce_state=PublishState.FAILED, announce_error="Bluesky said no.")
    detail = f"/api/v1/events/{event.pk}/"
    assert client.get(detail, **_bearer(host)).json()["announcement"] == {
        "state": "failed", "uri": "", "reason": "Bluesky said no."}
    assert client.get(detail, **_bearer(guest)).json()["announcement"] == {"state": "failed", "uri": "", "reason": ""}
    uri = "at://did:plc:alicealicealicealice/app.bsky.feed.post/3kabcdefghijk"
    Event.objects.filter(pk=event.pk).update(announce_state=PublishState.PUBLISHED, announce_uri=uri)
    assert client.get(detail, **_bearer(guest)).json()["announcement"] == {"state": "posted", "uri": uri, "reason": ""}


def test_a_series_is_announced_by_its_first_occurrence(host):
    _with_app_password(host)
    start = timezone.now() + timedelta(days=2)
    answer = Client().post("/api/v1/series/", {
        "kind": "weekly", "count": 3, "title": "Run club", "venue": "Park", "announce": True,
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()},
        content_type="application/json", **_bearer(host))
    assert answer.status_code == 201, answer.content
    series = EventSeries.objects.get()
    first, *rest = Event.objects.filter(series=series).order_by("starts_at")
    assert first.announce_state == PublishState.PENDING and rest and all(e.announce_rkey == "" for e in rest)
