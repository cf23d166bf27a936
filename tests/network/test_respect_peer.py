"""Respect against the official PDS and App View: a member's blocks and mutes (read with their own
app-password session from getBlocks/getMutes), a record's self-labels and a creator's profile
self-label each hide events on "Upcoming" and say why on the event page.

Every account here is made by this test (the shared peer's seeded accounts are in use by others):
the member's account follows four creators, blocks one, mutes another; one creator self-labels
its event record, another its profile.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from html import unescape

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from bluesky.graph import BlueskyGraphService
from elonara import atrecords
from network import services
from network.models import Creator
from tests.elonara.records_helpers import connect_app_password, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

EVENT = atrecords.EVENT_NSID
HIDE = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "!hide"}]}


@pytest.fixture
def network_settings(peer_settings, peer):
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    peer_settings.CELERY_TASK_ALWAYS_EAGER = False  # profiles are read by this test, when it chooses
    return peer_settings


@dataclass
class FreshAccount:
    did: str
    handle: str
    app_password: str
    client: httpx.Client

    def create(self, collection: str, record: dict, rkey: str | None = None) -> dict:
        body = {"repo": self.did, "collection": collection, "record": record, **({"rkey": rkey} if rkey else {})}
        return self.client.post("/xrpc/com.atproto.repo.createRecord", json=body).raise_for_status().json()


def _fresh(pds_url: str) -> FreshAccount:
    client = httpx.Client(base_url=pds_url, timeout=15)
    handle = f"n{secrets.token_hex(4)}.test"
    body = client.post("/xrpc/com.atproto.server.createAccount", json={
        "handle": handle, "email": f"{handle}@example.test", "password": secrets.token_urlsafe(16)}
    ).raise_for_status().json()
    client.headers["Authorization"] = f"Bearer {body['accessJwt']}"
    app_password = client.post("/xrpc/com.atproto.server.createAppPassword",
                               json={"name": "elonara-test"}).raise_for_status().json()["password"]
    return FreshAccount(did=body["did"], handle=handle, app_password=app_password, client=client)


def _now() -> str:
    return atrecords.at_datetime(timezone.now())


def _event(name: str, **extra) -> dict:
    start = timezone.now() + timedelta(days=4)
    return {"$type": EVENT, "name": name, "createdAt": _now(), "startsAt": start.isoformat(timespec="seconds"),
            "endsAt": (start + timedelta(hours=2)).isoformat(timespec="seconds"), **extra}


def _appview(peer, path: str, **params) -> dict:
    return httpx.get(f"{peer.appview_url}/xrpc/{path}", params=params, timeout=10).raise_for_status().json()


def test_blocks_mutes_and_labels_hide_events_and_the_page_says_why(peer, network_settings, django_user_model):
    viewer = _fresh(peer.pds_url)
    plain, blocked, muted, labelled, labelled_profile = (_fresh(peer.pds_url) for _ in range(5))
    # A creator whose profile carries a self-label; indexed before its event is read, so the
    # profile read below sees it.
    labelled_profile.create("app.bsky.actor.profile", {"$type": "app.bsky.actor.profile", "displayName": "Hidden",
                                                       "labels": HIDE}, rkey="self")
    for creator in (plain, blocked, muted, labelled, labelled_profile):
        viewer.create("app.bsky.graph.follow", {"$type": "app.bsky.graph.follow", "subject": creator.did,
                                                "createdAt": _now()})
    viewer.create("app.bsky.graph.block", {"$type": "app.bsky.graph.block", "subject": blocked.did,
                                           "createdAt": _now()})
    viewer.client.post("/xrpc/app.bsky.graph.muteActor", json={"actor": muted.did}).raise_for_status()

    uris = {
        "plain": plain.create(EVENT, _event("Plain picnic"))["uri"],
        "blocked": blocked.create(EVENT, _event("Blocked barbecue"))["uri"],
        "muted": muted.create(EVENT, _event("Muted meetup"))["uri"],
        "labelled": labelled.create(EVENT, _event("Labelled lecture", labels=HIDE))["uri"],
        "profile": labelled_profile.create(EVENT, _event("Profile party"))["uri"],
    }
    # Read as a pasted link is read: from each author's own repository. The first through the
    # "answer this event" link another app would hand out: it opens the event's page.
    opened = Client().get("/network/answer/", {"uri": uris["plain"]})
    assert opened.status_code == 302
    events = {key: services.network_event_fetch(link=uri) for key, uri in uris.items()}
    assert opened["Location"] == events["plain"].get_absolute_url()
    assert events["labelled"].hidden_label == "!hide"

    wait_for(lambda: any(label.get("val") == "!hide" for label in _appview(
        peer, "app.bsky.actor.getProfile", actor=labelled_profile.did).get("labels", [])), what="profile label")
    services.creator_profile_refresh(did=labelled_profile.did)
    assert Creator.objects.get(did=labelled_profile.did).hidden_label == "!hide"

    member = django_user_model.objects.create_user(username="viewer", password="pw-123456")
    connect_app_password(member, viewer)
    # The blocked creator is a member here too: their events show on everyone's Upcoming (the App
    # View drops a blocked account from the follows list, so following them is no reason).
    connect_app_password(django_user_model.objects.create_user(username="blocked", password="pw-123456"), blocked)
    wait_for(lambda: len(_appview(peer, "app.bsky.graph.getFollows", actor=viewer.did)["follows"]) >= 4,
             what="follows")
    assert services.member_follows_refresh(member=member) >= 4
    wait_for(lambda: BlueskyGraphService().hidden_accounts(member=member, fresh=True) == {
        blocked.did: "block", muted.did: "mute"}, what="the block and the mute")

    client = Client()
    client.force_login(member)
    upcoming = client.get("/upcoming/").content.decode()
    assert "Plain picnic" in upcoming
    for name in ("Blocked barbecue", "Muted meetup", "Labelled lecture", "Profile party"):
        assert name not in upcoming

    reasons = {
        "blocked": "you block its creator on Bluesky",
        "muted": "you muted its creator on Bluesky",
        "labelled": "it is labelled to be hidden",
        "profile": "its creator's Bluesky account is labelled to be hidden",
    }
    for key, why in reasons.items():
        page = unescape(client.get(events[key].get_absolute_url()).content.decode())
        assert f"This event is hidden: {why}." in page, key
    assert "Answers we know of" in client.get(events["plain"].get_absolute_url()).content.decode()
    # A visitor is not hidden from by someone else's blocks; the labels hold for everyone.
    visitor = unescape(Client().get(events["blocked"].get_absolute_url()).content.decode())
    assert "This event is hidden" not in visitor
    assert "Blocked barbecue" in Client().get("/upcoming/").content.decode()
    assert "This event is hidden" in Client().get(events["labelled"].get_absolute_url()).content.decode()
