"""A message to the guests, also posted as a reply in the event's Bluesky thread, against the
official PDS and App View: written in the host's own repository through the write pipeline and
read back from the PDS with its reply.root and reply.parent. Under a post the host linked (itself
a reply) the linked post is the parent and its thread's root stays the root; under the
announcement Elonara wrote, the announcement is both. Deleting the event with the box ticked
deletes the reply from the PDS."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from bluesky import pipeline
from bluesky import services as bluesky_services
from bluesky.models import RecordWrite, WritesMode
from bluesky.records import POST_NSID
from elonara import announcements, host_messages
from elonara.cards import event_link_card
from elonara.models import HostMessage, PublishState
from tests.elonara.records_helpers import OtherApp, connect_app_password, get_record, new_event, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def _now() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


def _send(client: Client, event, body: str) -> HostMessage:
    page = client.get(f"/events/{event.pk}/message/").content.decode()
    assert 'name="also_reply"' in page
    client.post(f"/events/{event.pk}/message/", {"groups": ["going"], "body": body, "also_reply": "on"})
    message = HostMessage.objects.get(event=event, body=body)
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.MESSAGE_REPLY, object_id=message.pk).exists()
    return message


def _published(message: HostMessage) -> dict:
    outcome = host_messages.host_message_reply_publish(message_id=message.pk)
    message.refresh_from_db()
    assert outcome.state == PublishState.PUBLISHED, message.reply_error
    # A second run (a redelivered message) writes nothing more.
    assert host_messages.host_message_reply_publish(message_id=message.pk).kind == "done"
    return message


def test_a_message_is_a_reply_in_the_events_thread(peer, accounts, peer_settings, django_user_model):
    bluesky_services.writes_mode_set(mode=WritesMode.LEGACY)
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    peer_settings.INVITATIONS_PACING_ENABLED = False
    alice_acc = accounts["alice"]
    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(host, alice_acc)
    client = Client()
    client.force_login(host)

    # A thread on Bluesky: bob's post, and his own reply to it, which the host links.
    bob = OtherApp(peer, accounts["bob"])
    try:
        first = bob.create(POST_NSID, {"$type": POST_NSID, "text": "Meetup on Thursday, who's coming?",
                                       "createdAt": _now()})
        root = {"uri": first["uri"], "cid": first["cid"]}
        linked = bob.create(POST_NSID, {"$type": POST_NSID, "text": "Details and tickets on Elonara",
                                        "reply": {"root": root, "parent": root}, "createdAt": _now()})
    finally:
        bob.close()
    wait_for(lambda: httpx.get(f"{peer.appview_url}/xrpc/app.bsky.feed.getPosts",
                               params={"uris": linked["uri"]}, timeout=10).json().get("posts"),
             timeout=30, what="the App View indexing bob's reply")
    event = new_event(host, title="Thursday meetup")
    did, rkey = linked["uri"].removeprefix("at://").split(f"/{POST_NSID}/")
    client.post(f"/events/{event.pk}/conversation/", {"post": f"https://bsky.app/profile/{did}/post/{rkey}"})

    message = _published(_send(client, event, "We moved to room 4 🚪"))
    assert message.reply_uri == f"at://{alice_acc.did}/{POST_NSID}/{message.reply_rkey}"
    stored = get_record(peer, message.reply_uri).raise_for_status().json()["value"]
    assert stored["reply"]["root"] == root
    assert stored["reply"]["parent"] == {"uri": linked["uri"], "cid": linked["cid"]}
    url = event_link_card(event=event, with_image_bytes=False).url
    assert stored["text"] == f"We moved to room 4 🚪\n{url}"
    assert "Also a reply in the Bluesky thread" in client.get(f"/events/{event.pk}/message/").content.decode()

    # Announced by Elonara: the announcement is both root and parent.
    announced = new_event(host, title="Friday meetup")
    assert announcements.announcement_choose(event=announced, host=host, wanted=True)
    assert announcements.announcement_publish(event_id=announced.pk).state == PublishState.PUBLISHED
    announced.refresh_from_db()
    message = _published(_send(client, announced, "Bring a friend."))
    stored = get_record(peer, message.reply_uri).raise_for_status().json()["value"]
    ref = {"uri": announced.announce_uri, "cid": announced.announce_cid}
    assert stored["reply"] == {"root": ref, "parent": ref}

    # Deleting the first event with the box ticked deletes its message's reply (the pipeline's own deletion).
    first_reply = HostMessage.objects.get(event=event).reply_uri
    client.post(f"/events/{event.pk}/delete/", {"delete_announcement": "on"})
    for job in RecordWrite.objects.filter(kind=RecordWrite.Kind.DELETE, collection=POST_NSID):
        assert pipeline.record_delete(member_id=job.member_id, collection=job.collection, rkey=job.rkey).state == \
            "deleted"
    assert get_record(peer, first_reply).status_code == 400
    assert get_record(peer, message.reply_uri).status_code == 200  # the other event's stays
