"""Invitation posts carry a link card (`app.bsky.embed.external`), with the cover as thumbnail when
the event has one, written by the official PDS and rendered by the official App View. Both agents."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from bluesky import services as bluesky_services
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.models import WritesMode
from elonara import services as elonara_services
from elonara.cards import link_card_for
from invitations import services
from invitations.models import Invitation
from tests.invitations.conftest import make_event, make_member, profile
from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky, posts_in_repo

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _peer_settings(settings, peer, tmp_path):
    configure_for_peer(settings, peer)
    settings.INVITATIONS_PACING_ENABLED = False
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _cover() -> SimpleUploadedFile:
    picture = Image.new("RGB", (1600, 900), (200, 80, 40))
    for x in range(0, 1600, 40):  # some detail, so the JPEG is not trivially small
        picture.paste((x % 255, 30, 200 - x % 200), (x, 0, x + 20, 900))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return SimpleUploadedFile("cover.jpg", out.getvalue(), content_type="image/jpeg")


def _send_one(host, event, recipient) -> Invitation:
    result = services.invitations_enqueue(host=host, target=event, profiles=[profile(recipient.handle,
                                                                                      recipient.did)],
                                          message_template="")
    invitation = result.batch.invitations.get()
    outcome = services.invitation_send(invitation_id=invitation.pk, agent=BlueskyAgentFactory.make())
    invitation.refresh_from_db()
    assert outcome.status == Invitation.Status.SENT, (invitation.failure_code, invitation.failure_reason)
    return invitation


def _app_view_post(peer, uri: str) -> dict:
    """The post as the official App View shows it to any client (indexed from the PDS's firehose)."""
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=peer.appview_url, timeout=10) as client:
        while time.monotonic() < deadline:
            posts = client.get("/xrpc/app.bsky.feed.getPosts", params={"uris": uri}).raise_for_status().json()
            if posts["posts"]:
                return posts["posts"][0]
            time.sleep(0.3)
    raise AssertionError(f"the App View never indexed {uri}")


@pytest.mark.parametrize("mode", [WritesMode.OAUTH, WritesMode.LEGACY])
def test_invitation_post_has_a_link_card_with_the_cover(mode, peer, accounts, peer_consent):
    alice, bob = accounts["alice"], accounts["bob"]
    bluesky_services.writes_mode_set(mode=mode)
    host = make_member("alice")
    if mode == WritesMode.OAUTH:
        host_client = Client()
        host_client.force_login(host)
        connect_bluesky(host_client, peer_consent, alice)
    else:
        bluesky_services.member_app_password_set(member=host, identifier=alice.handle,
                                                 app_password=alice.app_password)
    event = make_event(host=host, title="Lantern walk")
    elonara_services.event_update(event=event, editor=host, image=_cover(), image_alt="Lanterns by the river")
    event.refresh_from_db()
    card = link_card_for(event)
    assert card.image is not None and card.image.data

    invitation = _send_one(host, event, bob)

    record = posts_in_repo(peer, alice.did)[invitation.rkey]
    external = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert external["title"] == "Lantern walk" and external["description"] == card.description
    assert external["uri"].endswith(f"{event.get_absolute_url()}?invitation={invitation.token}")
    thumb = external["thumb"]
    assert thumb["mimeType"] == "image/jpeg" and thumb["size"] == len(card.image.data)
    # The blob is really in alice's repository.
    blob = httpx.get(f"{peer.pds_url}/xrpc/com.atproto.sync.getBlob",
                     params={"did": alice.did, "cid": thumb["ref"]["$link"]}, timeout=10)
    assert blob.status_code == 200 and blob.content == card.image.data

    shown = _app_view_post(peer, invitation.post_uri)
    view = shown["embed"]
    assert view["$type"] == "app.bsky.embed.external#view"
    assert (view["external"]["title"], view["external"]["uri"]) == ("Lantern walk", external["uri"])
    assert view["external"]["description"] == card.description
    assert thumb["ref"]["$link"] in view["external"]["thumb"]


def test_card_without_a_cover_and_a_grant_without_images(peer, accounts, peer_consent, settings):
    """No cover: still a card. An OAuth grant without the blob permission: the card, no thumbnail."""
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    bluesky_services.writes_mode_set(mode=WritesMode.OAUTH)
    host = make_member("alice")
    host_client = Client()
    host_client.force_login(host)
    connect_bluesky(host_client, peer_consent, alice)
    plain = make_event(host=host, title="Plain picnic")
    invitation = _send_one(host, plain, bob)
    record = posts_in_repo(peer, alice.did)[invitation.rkey]
    assert record["embed"]["external"]["title"] == "Plain picnic" and "thumb" not in record["embed"]["external"]
    assert _app_view_post(peer, invitation.post_uri)["embed"]["external"]["title"] == "Plain picnic"

    # carol connects granting posting but not images: her invitation still posts, with a card.
    settings.BLUESKY_OAUTH_SCOPE = "atproto repo:app.bsky.feed.post?action=create"
    other = make_member("carol")
    other_client = Client()
    other_client.force_login(other)
    connect_bluesky(other_client, peer_consent, carol)
    covered = make_event(host=other, title="Covered concert")
    elonara_services.event_update(event=covered, editor=other, image=_cover(), image_alt="Stage")
    covered.refresh_from_db()
    invitation = _send_one(other, covered, bob)
    external = posts_in_repo(peer, carol.did)[invitation.rkey]["embed"]["external"]
    assert external["title"] == "Covered concert" and "thumb" not in external
