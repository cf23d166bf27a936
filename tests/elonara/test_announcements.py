"""The announcement post without a peer: its record (facets by UTF-8 bytes, the card, the
length limit), the box on the new-event form (disabled with the reason, remembered from the
host's last choice), what publishing, editing, cancelling and deleting queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import regex
from django.test import Client
from django.utils import timezone

from bluesky import pipeline
from bluesky.models import MemberAppPassword, RecordWrite
from bluesky.records import FACET_LINK, POST_NSID, validate_post_record
from elonara import announcements, services
from elonara.cards import LinkCard
from elonara.models import Event, PublishState

URL = "https://elonara.example/events/7/"
WHEN = datetime(2031, 6, 1, 9, 30, tzinfo=UTC)


def _slice(record: dict, facet: dict) -> str:
    raw = record["text"].encode("utf-8")
    return raw[facet["index"]["byteStart"]: facet["index"]["byteEnd"]].decode("utf-8")


@pytest.mark.parametrize("title", ["Picnic", "Fête de la musique 🎉 — Zoë's café", "東京ボードゲーム会 👩‍👩‍👧‍👦",
                                   "Ǹ̷̡o̵̢͝ ẑ̸̛a̸̧͝l̷̢̛g̴̡͠o̶̧͝ " * 40])
def test_announcement_record_link_facet_and_card(title):
    card = LinkCard(title=title, description="Sun 1 Jun 2031 · Lisboa", url=URL, image=None)
    record = announcements.announcement_record(card=card, when="Sun 1 Jun 2031, 09:30–12:00", created_at=WHEN)
    validate_post_record(record)
    assert len(regex.findall(r"\X", record["text"])) <= 300
    [facet] = record["facets"]
    assert facet["features"] == [{"$type": FACET_LINK, "uri": URL}]
    assert _slice(record, facet) == URL and record["text"].endswith("\n" + URL)
    assert record["embed"] == {"$type": "app.bsky.embed.external",
                               "external": {"uri": URL, "title": title, "description": "Sun 1 Jun 2031 · Lisboa"}}


def test_reply_record_points_at_the_announcement():
    record = announcements.announcement_reply_record(text="Cancelled: Zoë's café 🎉 will not take place.", url=URL,
                                                     root_uri="at://did:plc:abc/app.bsky.feed.post/3k",
                                                     root_cid="bafyrei", created_at=WHEN)
    validate_post_record(record)
    ref = {"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": "bafyrei"}
    assert record["reply"] == {"root": ref, "parent": ref}
    assert _slice(record, record["facets"][0]) == URL


def _form_data(**extra) -> dict:
    start = (timezone.now() + timedelta(days=5)).replace(second=0, microsecond=0)
    data = {"title": "Lantern walk", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "time_zone": "UTC",
            "venue": "Jardim da Estrela"}
    data.update(extra)
    return data


@pytest.fixture
def host(db, django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-123456")


def _with_app_password(member) -> None:
    MemberAppPassword.objects.create(member=member, identifier="alice.test", handle="alice.test",
                                     did="did:plc:alicealicealicealice", app_password="abcd-efgh-ijkl-mnop")


def _checkbox(page: str, name: str) -> str:
    start = page.index(f'name="{name}"')
    return page[page.rindex("<input", 0, start): page.index(">", start) + 1]


def test_box_disabled_with_the_reason_without_an_account(host):
    client = Client()
    client.force_login(host)
    page = client.get("/events/new/").content.decode()
    box = _checkbox(page, "announce")
    assert "disabled" in box and "checked" not in box
    assert announcements.NO_ACCOUNT_REASON.split(":")[0] in page
    # Ticking it anyway (a crafted form) queues nothing.
    client.post("/events/new/", _form_data(announce="on"))
    event = Event.objects.get()
    assert event.announce_rkey == "" and not RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE).exists()


def test_publishing_with_the_box_queues_the_post_and_the_choice_is_remembered(host):
    _with_app_password(host)
    client = Client()
    client.force_login(host)
    assert "checked" not in _checkbox(client.get("/events/new/").content.decode(), "announce")
    client.post("/events/new/", _form_data(announce="on"))
    event = Event.objects.get()
    assert event.announce_wanted is True and len(event.announce_rkey) == 13
    assert event.announce_state == PublishState.PENDING
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk).exists()
    assert "Elonara is posting the announcement" in client.get(event.get_absolute_url()).content.decode()
    assert "Elonara is posting" not in Client().get(event.get_absolute_url()).content.decode()  # hosts only
    Event.objects.filter(pk=event.pk).update(announce_state=PublishState.FAILED, announce_error="Refused.")
    assert "was not posted on Bluesky: Refused." in client.get(event.get_absolute_url()).content.decode()
    # The next event's box starts ticked; unticking it is remembered too.
    assert "checked" in _checkbox(client.get("/events/new/").content.decode(), "announce")
    client.post("/events/new/", _form_data(title="Second walk"))
    second = Event.objects.get(title="Second walk")
    assert second.announce_wanted is False and second.announce_rkey == ""
    assert "checked" not in _checkbox(client.get("/events/new/").content.decode(), "announce")


def test_reply_on_time_change_and_cancellation_only_when_asked(host):
    _with_app_password(host)
    event = services.event_create(host=host, title="Walk", starts_at=timezone.now() + timedelta(days=2),
                                  ends_at=timezone.now() + timedelta(days=2, hours=1), venue="Park")
    client = Client()
    client.force_login(host)
    # No announcement of ours: no reply box.
    assert 'name="announce_reply"' not in client.get(f"/events/{event.pk}/edit/").content.decode()
    announcements.announcement_choose(event=event, host=host, wanted=True)
    event.refresh_from_db()
    assert 'name="announce_reply"' in client.get(f"/events/{event.pk}/edit/").content.decode()

    # Same time, box ticked: nothing to say.
    services.event_update(event=event, editor=host, title="Walk by the river", announce_reply=True)
    assert not RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE_REPLY).exists()
    # New time, box unticked: nothing either.
    services.event_update(event=event, editor=host, starts_at=event.starts_at + timedelta(hours=1),
                          ends_at=event.ends_at + timedelta(hours=1))
    assert not RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE_REPLY).exists()
    # New time, box ticked: a reply naming it.
    services.event_update(event=event, editor=host, starts_at=event.starts_at + timedelta(hours=1),
                          ends_at=event.ends_at + timedelta(hours=1), announce_reply=True)
    event.refresh_from_db()
    assert event.announce_reply_text.startswith("New time: ") and event.announce_reply_state == PublishState.PENDING
    first_key = event.announce_reply_rkey
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE_REPLY, object_id=event.pk).exists()

    assert 'name="announce_reply"' in client.get(f"/events/{event.pk}/cancel/").content.decode()
    client.post(f"/events/{event.pk}/cancel/", {"announce_reply": "on"})
    event.refresh_from_db()
    assert event.announce_reply_text == "Cancelled: Walk by the river will not take place."
    assert event.announce_reply_rkey != first_key


def test_deleting_offers_to_delete_the_post(host):
    _with_app_password(host)
    kept = services.event_create(host=host, title="Kept", starts_at=timezone.now() + timedelta(days=2),
                                 ends_at=timezone.now() + timedelta(days=2, hours=1), venue="Park")
    gone = services.event_create(host=host, title="Gone", starts_at=timezone.now() + timedelta(days=2),
                                 ends_at=timezone.now() + timedelta(days=2, hours=1), venue="Park")
    for event in (kept, gone):
        announcements.announcement_choose(event=event, host=host, wanted=True)
        event.refresh_from_db()
    client = Client()
    client.force_login(host)
    assert 'name="delete_announcement"' in client.get(f"/events/{kept.pk}/delete/").content.decode()
    client.post(f"/events/{kept.pk}/delete/", {})
    client.post(f"/events/{gone.pk}/delete/", {"delete_announcement": "on"})
    deletions = set(RecordWrite.objects.filter(kind=RecordWrite.Kind.DELETE, collection=POST_NSID)
                    .values_list("rkey", flat=True))
    assert deletions == {gone.announce_rkey}


def test_the_pipeline_runs_the_announcement_and_says_why_it_failed(host):
    """Through the pipeline's own run (the message's token), as the worker does: the host removed
    their app password meanwhile, so no account of theirs can post, and the event says why."""
    _with_app_password(host)
    event = services.event_create(host=host, title="Walk", starts_at=timezone.now() + timedelta(days=2),
                                  ends_at=timezone.now() + timedelta(days=2, hours=1), venue="Park")
    assert announcements.announcement_choose(event=event, host=host, wanted=True)
    MemberAppPassword.objects.filter(member=host).delete()
    job = RecordWrite.objects.get(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk)
    assert pipeline.record_write_run(token=job.token) == PublishState.FAILED
    event.refresh_from_db()
    assert event.announce_state == PublishState.FAILED and event.announce_error == announcements.NO_ACCOUNT_REASON
    assert not RecordWrite.objects.filter(pk=job.pk).exists()
