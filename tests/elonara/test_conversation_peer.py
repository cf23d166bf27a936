"""The event's conversation against the official PDS and App View: the host links the
announcement post; replies bob and carol write on their PDS are indexed by the App View, read
through app.bsky.feed.getPostThread and shown on the event page with a link to reply; a reply
whose author blocks the host (which the App View leaves out of the thread) is not shown."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from elonara import conversation
from elonara.models import EventConversation
from tests.elonara.records_helpers import OtherApp, new_event, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]
POST = "app.bsky.feed.post"


def _now() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


def _thread(peer, uri: str) -> dict:
    return httpx.get(f"{peer.appview_url}/xrpc/app.bsky.feed.getPostThread",
                     params={"uri": uri, "depth": 3}, timeout=10).json()


def test_replies_written_on_the_pds_show_on_the_event_page(peer, accounts, peer_settings, django_user_model):
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    alice_acc = accounts["alice"]
    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    event = new_event(host, title="Weekly Go night")
    alice, bob, carol = OtherApp(peer, alice_acc), OtherApp(peer, accounts["bob"]), OtherApp(peer, accounts["carol"])
    blocker = None
    try:
        root = alice.create(POST, {"$type": POST, "text": "Go night on Tuesday! Who's in?", "createdAt": _now()})
        ref = {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": {"uri": root["uri"], "cid": root["cid"]}}
        bob_reply = bob.create(POST, {"$type": POST, "text": "Count me in, bringing my board", "reply": ref,
                                      "createdAt": _now()})
        nested = {"root": ref["root"], "parent": {"uri": bob_reply["uri"], "cid": bob_reply["cid"]}}
        carol.create(POST, {"$type": POST, "text": "Me too, see you there", "reply": nested, "createdAt": _now()})
        wait_for(lambda: len(_thread(peer, root["uri"]).get("thread", {}).get("replies", [])) == 1
                 and _thread(peer, root["uri"])["thread"]["replies"][0].get("replies"),
                 timeout=30, what="the App View indexing the replies")

        # The host pastes the post's bsky.app link (by handle); the refresh reads the thread.
        client = Client()
        client.force_login(host)
        rkey = root["uri"].rsplit("/", 1)[-1]
        client.post(f"/events/{event.pk}/conversation/",
                    {"post": f"https://bsky.app/profile/{alice_acc.handle}/post/{rkey}"})
        row = EventConversation.objects.get(event=event)
        assert row.post_uri == root["uri"]
        conversation.conversation_refresh(event_id=event.pk)
        page = Client().get(event.get_absolute_url()).content.decode()
        assert "Count me in, bringing my board" in page and "Me too, see you there" in page
        assert f"@{accounts['bob'].handle}" in page
        assert f'href="https://bsky.app/profile/{alice_acc.did}/post/{rkey}"' in page  # reply on Bluesky
        assert 'class="reply depth-2"' in page  # carol answered bob

        # carol blocks the host, then replies to the announcement: the App View leaves her reply out
        # of the thread (it is indexed: getPosts has it), and so does the page.
        blocker = carol.create("app.bsky.graph.block", {"$type": "app.bsky.graph.block", "subject": alice_acc.did,
                                                        "createdAt": _now()})
        hidden = carol.create(POST, {"$type": POST, "text": "Blocked words here", "reply": ref, "createdAt": _now()})
        wait_for(lambda: httpx.get(f"{peer.appview_url}/xrpc/app.bsky.feed.getPosts",
                                   params={"uris": hidden["uri"]}, timeout=10).json().get("posts"),
                 timeout=30, what="the App View indexing carol's reply")
        conversation.conversation_refresh(event_id=event.pk)
        page = Client().get(event.get_absolute_url()).content.decode()
        assert "Count me in" in page and "Blocked words here" not in page
    finally:
        if blocker is not None:
            carol.delete("app.bsky.graph.block", blocker["uri"].rsplit("/", 1)[-1])
        for app in (alice, bob, carol):
            app.close()
