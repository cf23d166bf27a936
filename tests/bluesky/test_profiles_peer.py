"""Faces from the official App View (issue 38): a member's Bluesky display name and avatar come
from app.bsky.actor.getProfiles on the test network's App View, are kept on their row and shown
on an event's guest list; a change on Bluesky shows after the next refresh."""

from __future__ import annotations

import io
import secrets
import time

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from bluesky.models import BlueskySignIn
from bluesky.profiles import member_profiles_refresh
from elonara import services
from members.models import Member
from tests.notifications.helpers import event as make_event

pytestmark = [pytest.mark.peer, pytest.mark.django_db]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _new_account(peer) -> tuple[httpx.Client, str]:
    """A fresh account of our own on the shared PDS (the shared ones' profiles stay as they are)."""
    name = f"face{secrets.token_hex(4)}"
    client = httpx.Client(base_url=peer.pds_url, timeout=10)
    body = client.post("/xrpc/com.atproto.server.createAccount", json={
        "email": f"{name}@peer.invalid", "handle": f"{name}.test", "password": secrets.token_urlsafe(16),
    }).raise_for_status().json()
    client.headers["Authorization"] = f"Bearer {body['accessJwt']}"
    return client, body["did"]


def _profile_put(client: httpx.Client, did: str, *, name: str, avatar: bool) -> None:
    record: dict = {"$type": "app.bsky.actor.profile", "displayName": name}
    if avatar:
        blob = client.post("/xrpc/com.atproto.repo.uploadBlob", content=_png(),
                           headers={"Content-Type": "image/png"}).raise_for_status().json()["blob"]
        record["avatar"] = blob
    client.post("/xrpc/com.atproto.repo.putRecord", json={
        "repo": did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": record,
    }).raise_for_status()


def _indexed(peer, did: str, check) -> dict:
    deadline = time.monotonic() + 30
    while True:
        body = httpx.get(f"{peer.appview_url}/xrpc/app.bsky.actor.getProfile", params={"actor": did}, timeout=10)
        if body.status_code == 200 and check(body.json()):
            return body.json()
        if time.monotonic() > deadline:
            pytest.fail(f"the App View did not index the profile: {body.text[:200]}")
        time.sleep(0.3)


def test_the_guest_list_shows_the_app_views_avatar_and_name(peer, peer_settings):
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    client, did = _new_account(peer)
    try:
        _profile_put(client, did, name="Dana from Bluesky", avatar=True)
        profile = _indexed(peer, did, lambda p: bool(p.get("avatar")) and p.get("displayName") == "Dana from Bluesky")
        host = Member.objects.create_user(username="host", password="pw-long-enough-123")
        dana = Member.objects.create_user(username="dana", password="pw-long-enough-123", display_name="D.")
        BlueskySignIn.objects.create(member=dana, did=did, last_used_at=timezone.now())
        party = make_event(host, title="Faces night")
        services.rsvp_set(event=party, member=dana, status="going")

        assert member_profiles_refresh(member_ids=[dana.pk]) == 1
        dana.refresh_from_db()
        # The App View's own CDN address, as it gave it (the test network's is https too).
        assert dana.bluesky_avatar_url == profile["avatar"] and dana.bluesky_avatar_url.startswith("https://")
        assert did in dana.bluesky_avatar_url
        assert dana.bluesky_display_name == "Dana from Bluesky" and dana.bluesky_profile_at is not None
        page = Client().get(f"/events/{party.pk}/").content.decode()
        attendees = page.split('id="attendees"')[1]
        assert f'src="{profile["avatar"]}" width="32" height="32" alt="" loading="lazy"' in attendees
        assert 'class="person-name">Dana from Bluesky</span>' in attendees
        # The host has no Bluesky account: initials.
        assert 'aria-hidden="true">H</span><span class="person-name">host</span>' in attendees

        # Changed on Bluesky (no avatar any more): the next refresh follows, and the page too.
        _profile_put(client, did, name="Dana", avatar=False)
        _indexed(peer, did, lambda p: not p.get("avatar") and p.get("displayName") == "Dana")
        assert member_profiles_refresh(member_ids=[dana.pk]) == 1
        page = Client().get(f"/events/{party.pk}/").content.decode().split('id="attendees"')[1]
        assert profile["avatar"] not in page
        assert 'aria-hidden="true">D</span><span class="person-name">Dana</span>' in page
        # Read again with nothing changed: no row changes (no page renewed for nothing).
        assert member_profiles_refresh(member_ids=[dana.pk]) == 0
    finally:
        client.close()
