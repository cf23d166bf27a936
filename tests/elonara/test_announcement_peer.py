"""The announcement post against the official PDS and App View.

The host publishes with the box ticked: the post is written in the host's own repository (read
back with com.atproto.repo.getRecord: the link card with its thumbnail blob), it is the event's
conversation at once, and a reply bob writes on his PDS shows on the event page with nothing
pasted. Cancelling with the box ticked writes a reply in that thread; deleting with the box ticked
deletes the post. The pipeline's attempts are called as the worker calls them (the queued
messages go to the in-memory broker here)."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from PIL import Image

from bluesky import pipeline
from bluesky import services as bluesky_services
from bluesky.models import BlueskyIdentity, RecordWrite, WritesMode
from bluesky.records import POST_NSID
from elonara import announcements, conversation
from elonara.cards import event_link_card
from elonara.models import Event, EventConversation, PublishState
from tests.elonara.records_helpers import OtherApp, connect_app_password, get_record, wait_for
from tests.invitations.peer_helpers import connect_bluesky

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def _cover() -> SimpleUploadedFile:
    picture = Image.new("RGB", (1200, 630), (40, 90, 200))
    for x in range(0, 1200, 30):
        picture.paste((x % 255, 120, 60), (x, 0, x + 12, 630))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return SimpleUploadedFile("cover.jpg", out.getvalue(), content_type="image/jpeg")


def _thread(peer, uri: str) -> dict:
    return httpx.get(f"{peer.appview_url}/xrpc/app.bsky.feed.getPostThread",
                     params={"uri": uri, "depth": 3}, timeout=10).json()


def _now() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("mode", [WritesMode.LEGACY, WritesMode.OAUTH])
def test_announced_on_publishing_replies_show_and_cancellation_replies(mode, peer, accounts, peer_settings, tmp_path,
                                                                      peer_consent, django_user_model):
    """Both ways a host's own account writes: their app password, and their OAuth grant (the
    default scope, which asks to delete posts too: the deletion below needs it)."""
    bluesky_services.writes_mode_set(mode=mode)
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.MEDIA_ROOT = str(tmp_path / "media")
    alice_acc = accounts["alice"]
    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    client = Client()
    client.force_login(host)
    if mode == WritesMode.LEGACY:
        connect_app_password(host, alice_acc)
    else:
        connect_bluesky(client, peer_consent, alice_acc)
        assert BlueskyIdentity.objects.get(member=host).status == BlueskyIdentity.Status.CONNECTED
    start = (timezone.now() + timedelta(days=6)).replace(second=0, microsecond=0)
    response = client.post("/events/new/", {
        "title": "Fête des lanternes 🏮", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "time_zone": "Europe/Lisbon",
        "venue": "Jardim da Estrela", "image": _cover(), "image_alt": "Lanterns", "announce": "on",
        "language": "pt-br"})
    assert response.status_code == 302, response.content[:400]
    event = Event.objects.get()
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.ANNOUNCE, object_id=event.pk).exists()

    outcome = announcements.announcement_publish(event_id=event.pk)
    event.refresh_from_db()
    assert outcome.state == PublishState.PUBLISHED, event.announce_error
    assert event.announce_uri == f"at://{alice_acc.did}/{POST_NSID}/{event.announce_rkey}"
    # A second run (a redelivered message) writes nothing more.
    assert announcements.announcement_publish(event_id=event.pk).kind == "done"

    stored = get_record(peer, event.announce_uri).raise_for_status().json()
    assert stored["cid"] == event.announce_cid
    value = stored["value"]
    # In the event's language (issue 39): marked for Bluesky's language filters, its card's date in it.
    assert value["langs"] == ["pt-BR"]
    with translation.override("pt-br"):
        card = event_link_card(event=event)
    external = value["embed"]["external"]
    assert value["embed"]["$type"] == "app.bsky.embed.external"
    assert (external["title"], external["uri"], external["description"]) == (card.title, card.url, card.description)
    thumb = external["thumb"]
    assert thumb["mimeType"] == "image/jpeg" and thumb["size"] == len(card.image.data)
    blob = httpx.get(f"{peer.pds_url}/xrpc/com.atproto.sync.getBlob",
                     params={"did": alice_acc.did, "cid": thumb["ref"]["$link"]}, timeout=10)
    assert blob.status_code == 200 and blob.content == card.image.data
    assert value["text"].startswith("Fête des lanternes 🏮\n") and value["text"].endswith(card.url)

    # The event's conversation at once: nothing pasted.
    assert EventConversation.objects.get(event=event).post_uri == event.announce_uri

    bob = OtherApp(peer, accounts["bob"])
    try:
        ref = {"uri": event.announce_uri, "cid": event.announce_cid}
        bob.create(POST_NSID, {"$type": POST_NSID, "text": "Bringing a paper lantern!",
                               "reply": {"root": ref, "parent": ref}, "createdAt": _now()})
        wait_for(lambda: _thread(peer, event.announce_uri).get("thread", {}).get("replies"), timeout=30,
                 what="the App View indexing bob's reply")
    finally:
        bob.close()
    conversation.conversation_refresh(event_id=event.pk)
    page = Client().get(event.get_absolute_url()).content.decode()
    assert "Bringing a paper lantern!" in page and f"@{accounts['bob'].handle}" in page

    # Cancelling with the box ticked: a reply in the announcement's thread.
    assert 'name="announce_reply"' in client.get(f"/events/{event.pk}/cancel/").content.decode()
    client.post(f"/events/{event.pk}/cancel/", {"announce_reply": "on"})
    outcome = announcements.announcement_reply_publish(event_id=event.pk)
    event.refresh_from_db()
    assert outcome.state == PublishState.PUBLISHED and event.announce_reply_uri
    reply = get_record(peer, event.announce_reply_uri).raise_for_status().json()["value"]
    assert reply["reply"]["root"] == {"uri": event.announce_uri, "cid": event.announce_cid}
    assert reply["reply"]["parent"] == reply["reply"]["root"] and reply["langs"] == ["pt-BR"]
    assert reply["text"].startswith("Cancelled: Fête des lanternes 🏮 will not take place.")

    # Deleting with the box ticked deletes the post and the reply (the pipeline's own deletion).
    announce_uri, reply_uri = event.announce_uri, event.announce_reply_uri
    client.post(f"/events/{event.pk}/delete/", {"delete_announcement": "on"})
    for job in RecordWrite.objects.filter(kind=RecordWrite.Kind.DELETE, collection=POST_NSID):
        assert pipeline.record_delete(member_id=job.member_id, collection=job.collection, rkey=job.rkey).state == \
            "deleted"
    assert get_record(peer, announce_uri).status_code == 400
    assert get_record(peer, reply_uri).status_code == 400
