"""End to end against the official PDS + App View with a real Celery worker.

alice connects, opens her event, sees bob among her followers, invites him; a worker process posts
it; the post is in alice's repo with a mention facet for bob's DID and a link facet to the event;
bob signs up, connects, sees the invitation on his home page, RSVPs, and it is accepted. Once with
the OAuth agent (alice's DPoP session) and once with the legacy agent (alice's app password).
"""

from __future__ import annotations

import os
import re

import pytest
import regex
from django.test import Client

from bluesky import services as bluesky_services
from bluesky.models import WritesMode
from invitations.models import Invitation
from tests.invitations.conftest import make_event, make_member
from tests.invitations.peer_helpers import (
    celery_worker,
    configure_for_peer,
    connect_bluesky,
    posts_in_repo,
    purge_queue,
    wait_until_final,
    worker_env,
)

pytestmark = [
    pytest.mark.peer,
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)"),
]


@pytest.fixture(autouse=True)
def _peer_settings(settings, peer):
    configure_for_peer(settings, peer)


@pytest.mark.parametrize("mode", [WritesMode.OAUTH, WritesMode.LEGACY])
def test_invite_a_follower_end_to_end(mode, peer, accounts, peer_consent, tmp_path):
    alice_acc, bob_acc = accounts["alice"], accounts["bob"]
    bluesky_services.writes_mode_set(mode=mode)
    host = make_member("alice")
    host_client = Client()
    host_client.force_login(host)
    connect_bluesky(host_client, peer_consent, alice_acc)
    if mode == WritesMode.LEGACY:
        bluesky_services.member_app_password_set(member=host, identifier=alice_acc.handle,
                                               app_password=alice_acc.app_password)
    event = make_event(host=host, title="Rooftop board games 🎲")

    # The event page offers the picker; the picker's API lists bob among alice's followers.
    page = host_client.get(event.get_absolute_url()).content.decode()
    assert "Invite from Bluesky" in page
    followers = host_client.get(f"/api/invitations/event/{event.pk}/graph/followers/").json()
    assert bob_acc.did in {p["did"] for p in followers["profiles"]}
    bob_profile = next(p for p in followers["profiles"] if p["did"] == bob_acc.did)
    assert bob_profile["handle"] == bob_acc.handle and bob_profile["invited"] == ""

    # A DID that is not connected to alice is refused by the server, whatever the client says.
    stranger = "did:plc:" + "a" * 24
    purge_queue()
    with celery_worker(extra_env=worker_env(peer, INVITATIONS_PACING_ENABLED="true"),
                       log_path=tmp_path / "worker.log"):
        created = host_client.post(
            f"/api/invitations/event/{event.pk}/",
            {"dids": [bob_acc.did, stranger], "message": "{mention} join us for {name} on {date}! {link}"},
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        data = created.json()
        assert data["created"] == 1 and data["skipped"] == {stranger: "not_connected"}
        rows = wait_until_final(data["batch"], timeout=90)
    log = (tmp_path / "worker.log").read_text()[-3000:]
    assert [r.status for r in rows] == [Invitation.Status.SENT], (rows[0].failure_reason, log)
    invitation = rows[0]

    # The progress endpoint agrees.
    status = host_client.get(data["status_url"]).json()
    assert (status["sent"], status["failed"], status["waiting"], status["done"]) == (1, 0, 0, True)

    # The post really is in alice's repo, under the invitation's fixed record key.
    posts = posts_in_repo(peer, alice_acc.did)
    record = posts[invitation.rkey]
    assert invitation.post_uri == f"at://{alice_acc.did}/app.bsky.feed.post/{invitation.rkey}"
    text = record["text"].encode()
    mentions = [f for f in record["facets"] if f["features"][0]["$type"] == "app.bsky.richtext.facet#mention"]
    links = [f for f in record["facets"] if f["features"][0]["$type"] == "app.bsky.richtext.facet#link"]
    assert [m["features"][0]["did"] for m in mentions] == [bob_acc.did]
    assert text[mentions[0]["index"]["byteStart"]:mentions[0]["index"]["byteEnd"]].decode() == f"@{bob_acc.handle}"
    link_uri = links[0]["features"][0]["uri"]
    assert link_uri.endswith(f"{event.get_absolute_url()}?invitation={invitation.token}")
    assert text[links[0]["index"]["byteStart"]:links[0]["index"]["byteEnd"]].decode() == link_uri
    assert "Rooftop board games 🎲" in record["text"] and len(regex.findall(r"\X", record["text"])) <= 300
    assert record["langs"] == ["en"]

    # The picker now marks bob as invited.
    again = host_client.get(f"/api/invitations/event/{event.pk}/graph/followers/").json()
    assert next(p for p in again["profiles"] if p["did"] == bob_acc.did)["invited"] == "sent"

    # bob follows the link: "@alice.test invited you", signs up, connects, RSVPs.
    bob_client = Client()
    landing_path = link_uri.split("://", 1)[1].split("/", 1)[1]
    landing = bob_client.get("/" + landing_path).content.decode()
    assert f"@{alice_acc.handle}</strong> invited you" in landing and "Sign up" in landing
    signup_url = re.search(r'href="(/members/signup/\?next=[^"]+)"', landing).group(1)
    signup = bob_client.post(signup_url, {
        "username": "bob", "email": "bob@example.org", "display_name": "Bob",
        "password1": "correct-horse-battery-9", "password2": "correct-horse-battery-9",
    })
    # Back on the event page the invitation came from.
    assert signup.status_code == 302 and signup["Location"] == "/" + landing_path, signup.content[:1000]
    connect_bluesky(bob_client, peer_consent, bob_acc)
    home = bob_client.get("/").content.decode()
    assert "Your Bluesky invitations" in home and f"invitation={invitation.token}" in home
    rsvp = bob_client.post(f"/events/{event.pk}/rsvp/", {"status": "going"})
    assert rsvp.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by.username == "bob"
