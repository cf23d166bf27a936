"""Elonara's feed in the Bluesky app, end to end on the official network: our service DID is
registered in the peer's PLC directory (a `#bsky_fg` service at the app host), the feed record is
published by `manage.py feeds_publish` in the operator's account, and `app.bsky.feed.getFeed` asked
of the PDS by a signed-in account goes to the App View, which resolves our service, calls our
getFeedSkeleton with the requester's service token and hydrates the posts. bob follows alice (the
host): he sees her event's post; alice follows only bob, who hosts nothing: her feed is empty."""

from __future__ import annotations

import httpx
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from elonara.models import EventConversation
from feeds.models import FeedRecord
from tests.elonara.records_helpers import OtherApp, connect_app_password, new_event, wait_for
from tests.feeds.plc import plc_register_service

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]
POST = "app.bsky.feed.post"


def _now() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


def _get_feed(peer, account, feed_uri: str) -> httpx.Response:
    """getFeed as the Bluesky app asks it: to the account's PDS, proxied to the App View."""
    with httpx.Client(base_url=peer.pds_url, timeout=30) as client:
        session = client.post("/xrpc/com.atproto.server.createSession",
                              json={"identifier": account.handle, "password": account.app_password})
        token = session.raise_for_status().json()["accessJwt"]
        return client.get("/xrpc/app.bsky.feed.getFeed", params={"feed": feed_uri},
                          headers={"Authorization": f"Bearer {token}",
                                   "atproto-proxy": f"{peer.appview_did}#bsky_appview"})


def _generator(peer, feed_uri: str) -> dict | None:
    response = httpx.get(f"{peer.appview_url}/xrpc/app.bsky.feed.getFeedGenerator", params={"feed": feed_uri},
                         timeout=10)
    return response.json() if response.status_code == 200 else None


def test_get_feed_on_the_app_view_lists_followed_hosts_posts(peer, accounts, confidential_app, settings,
                                                             django_user_model):
    cache.clear()
    app_host = confidential_app
    service_did = plc_register_service(peer.plc_url, service_id="bsky_fg", service_type="BskyFeedGenerator",
                                       endpoint=app_host.url)
    settings.FEEDS_SERVICE_DID = service_did
    settings.BLUESKY_APPVIEW_URL = peer.appview_url
    settings.FEEDS_PUBLISHER_IDENTIFIER = accounts["alice"].handle
    settings.FEEDS_PUBLISHER_APP_PASSWORD = accounts["alice"].app_password

    host = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(host, accounts["alice"])
    event = new_event(host, title="Go night at the library")
    alice = OtherApp(peer, accounts["alice"])
    try:
        post = alice.create(POST, {"$type": POST, "text": "Go night at the library, Tuesday!", "createdAt": _now()})
        EventConversation.objects.create(event=event, post_uri=post["uri"], set_by=host)

        call_command("feeds_publish")
        feed_uri = FeedRecord.objects.get(rkey="upcoming-follows").uri
        generator = wait_for(lambda: _generator(peer, feed_uri), timeout=30,
                             what="the App View indexing the feed record")
        # The App View asked our describeFeedGenerator and found the feed listed under our DID.
        assert generator["isOnline"] and generator["isValid"], generator
        assert generator["view"]["did"] == service_did
        assert generator["view"]["displayName"] == "Upcoming from my follows"

        response = _get_feed(peer, accounts["bob"], feed_uri)
        assert response.status_code == 200, response.text
        items = response.json()["feed"]
        assert [item["post"]["uri"] for item in items] == [post["uri"]]
        # Hydrated by the App View: the post's text and author, not just its address.
        assert items[0]["post"]["record"]["text"] == "Go night at the library, Tuesday!"
        assert items[0]["post"]["author"]["did"] == accounts["alice"].did
        assert app_host.fetched("/xrpc/app.bsky.feed.getFeedSkeleton")

        response = _get_feed(peer, accounts["alice"], feed_uri)  # alice follows bob only
        assert response.status_code == 200, response.text
        assert response.json()["feed"] == []

        call_command("feeds_withdraw")
        assert not FeedRecord.objects.exists()
    finally:
        alice.close()
