"""Connect Bluesky: CSRF, login, no secret anywhere a person or a log can see, key rotation."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bluesky import clients, keys
from bluesky.models import BlueskyIdentity, ClientSigningKey
from bluesky.sessions import OAuthPdsSession, identity_refresh
from members.models import Member


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["bluesky:connect", "bluesky:reauthorize", "bluesky:disconnect"])
def test_every_post_needs_csrf_and_login(name):
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    anonymous = Client()
    assert anonymous.post(reverse(name)).status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(reverse(name), {"identifier": "alice.bsky.social"}).status_code == 403
    assert strict.get(reverse(name)).status_code == 405


@pytest.mark.django_db
def test_callback_refuses_an_unknown_state_signed_in_or_not(client):
    # Signed out is allowed since "Continue with Bluesky" (its own tests check a connect still needs
    # the member who started it); an unknown state is refused either way, before any token call.
    anonymous = client.get(reverse("bluesky:callback"), {"state": "x", "code": "y"})
    assert anonymous.status_code == 400 and "unknown, expired or already used" in anonymous.content.decode()
    client.force_login(Member.objects.create_user(username="ann", password="pw-long-enough-123"))
    page = client.get(reverse("bluesky:callback"), {"state": "made-up", "code": "y", "iss": "https://x.example"})
    assert page.status_code == 400 and "unknown, expired or already used" in page.content.decode()


@pytest.mark.django_db
def test_loopback_mode_publishes_no_metadata(client, settings):
    settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    assert client.get("/bluesky/client-metadata.json").status_code == 404


@pytest.mark.django_db
def test_confidential_metadata_and_jwks(client, settings):
    settings.ELONARA_PUBLIC_URL = "https://elonara.example.org"
    clients.reset()
    meta = client.get("/bluesky/client-metadata.json").json()
    assert meta["client_id"] == "https://elonara.example.org/bluesky/client-metadata.json"
    assert meta["redirect_uris"] == ["https://elonara.example.org/bluesky/callback/"]
    assert meta["token_endpoint_auth_method"] == "private_key_jwt" and meta["dpop_bound_access_tokens"] is True
    keys = client.get("/bluesky/jwks.json").json()["keys"]
    assert len(keys) == 1 and keys[0]["kid"] and "d" not in keys[0]
    # What consent screens show: our name, logo, terms and privacy policy, all served by us.
    assert meta["client_name"] == "Elonara" and meta["client_uri"] == "https://elonara.example.org"
    for field, path in (("tos_uri", "/terms/"), ("policy_uri", "/privacy/")):
        assert meta[field] == f"https://elonara.example.org{path}"
        assert client.get(path).status_code == 200
    assert meta["logo_uri"].startswith("https://elonara.example.org/static/img/elonara-logo")
    clients.reset()


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_html_api_admin_logs_or_database(client, loopback_app, accounts, peer_consent, caplog,
                                                           settings):
    caplog.set_level(logging.DEBUG)
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123", is_staff=True,
                                        is_superuser=True)
    client.force_login(member)
    start = client.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    params = peer_consent(start.url, accounts["alice"])
    client.get(reverse("bluesky:callback"), params)
    identity = identity_refresh(identity_id=BlueskyIdentity.objects.get(member=member).pk, force=True)
    OAuthPdsSession.for_member(member).get("com.atproto.server.getSession")

    secrets = {
        "access token": identity.access_token,
        "refresh token": identity.refresh_token,
        "DPoP private key": json.loads(identity.dpop_private_jwk)["d"],
        "authorization code": params["code"],
    }
    seen = {
        "profile": client.get(reverse("members:profile", args=["ann"])).content.decode(),
        "api": client.get("/api/bluesky/identity/").content.decode(),
        "admin list": client.get("/admin/bluesky/blueskyidentity/").content.decode(),
        "admin page": client.get(f"/admin/bluesky/blueskyidentity/{identity.pk}/change/").content.decode(),
        "logs": "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records),
    }
    assert "alice" in seen["admin list"]  # the pages rendered for real
    for place, text in seen.items():
        for name, secret in secrets.items():
            assert secret and secret not in text, f"{name} appears in {place}"

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token, dpop_private_jwk FROM bluesky_blueskyidentity")
        stored = cursor.fetchone()
    for value in stored:
        assert value.startswith("gAAAAA")  # Fernet tokens
    for secret in secrets.values():
        assert all(secret not in value for value in stored)


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_key_rotations_leave_identities_usable(client, loopback_app, accounts, peer_consent, settings):
    from cryptography.fernet import Fernet

    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(member)
    start = client.post(reverse("bluesky:connect"), {"identifier": accounts["bob"].handle})
    client.get(reverse("bluesky:callback"), peer_consent(start.url, accounts["bob"]))

    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys")
    call_command("rotate_encryption_keys")  # idempotent
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    session = OAuthPdsSession.for_member(member)
    assert session.get("com.atproto.server.getSession")["did"] == accounts["bob"].did
    identity_refresh(identity_id=session.row.pk, force=True)
    assert session.get("com.atproto.server.getSession")["did"] == accounts["bob"].did


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_client_key_rotation_keeps_bound_sessions(client, confidential_app, accounts, peer_consent):
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(member)
    start = client.post(reverse("bluesky:connect"), {"identifier": accounts["carol"].handle})
    client.get(reverse("bluesky:callback"), peer_consent(start.url, accounts["carol"]))
    identity = BlueskyIdentity.objects.get(member=member)
    old_kid = identity.client_kid

    call_command("rotate_client_keys", stdout=io.StringIO())
    published = {k["kid"] for k in client.get("/bluesky/jwks.json").json()["keys"]}
    new_kid = ClientSigningKey.objects.get(signs_from__isnull=False).kid
    assert published == {old_kid, new_kid} and old_kid != new_kid
    refreshed = identity_refresh(identity_id=identity.pk, force=True)  # signed with the session's own key
    assert refreshed.client_kid == old_kid
    session = OAuthPdsSession.for_member(member)
    assert session.get("com.atproto.server.getSession")["did"] == accounts["carol"].did


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_a_rotated_key_is_published_first_and_sign_ins_go_on(client, confidential_app, accounts, peer_consent,
                                                               settings):
    # Issue 24: the official PDS caches our JWKS for 600 s; a key that signed at once was refused
    # ("no applicable key found in the JSON Web Key Set") until the cache expired.
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(ann)
    start = client.post(reverse("bluesky:connect"), {"identifier": accounts["carol"].handle})
    client.get(reverse("bluesky:callback"), peer_consent(start.url, accounts["carol"]))  # the PDS caches our JWKS
    old_kid = BlueskyIdentity.objects.get(member=ann).client_kid

    out = io.StringIO()
    call_command("rotate_client_keys", stdout=out)
    new = ClientSigningKey.objects.get(signs_from__isnull=False)
    assert f"Key {new.kid} is published in jwks.json now and takes over signing at" in out.getvalue()
    assert f"in {settings.BLUESKY_JWKS_CACHE_SECONDS} s" in out.getvalue()
    assert {k["kid"] for k in client.get("/bluesky/jwks.json").json()["keys"]} == {old_kid, new.kid}

    # Another member connects right after the rotation: the PDS still holds the old JWKS.
    bea = Member.objects.create_user(username="bea", password="pw-long-enough-123")
    other = Client()
    other.force_login(bea)
    start = other.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    assert start.status_code == 302 and "/oauth/authorize" in start.url, start.url  # PAR accepted our assertion
    landed = other.get(reverse("bluesky:callback"), peer_consent(start.url, accounts["alice"]))
    assert landed.status_code == 302, landed.content[:500]
    assert BlueskyIdentity.objects.get(member=bea).client_kid == old_kid

    # Once the longest JWKS cache has passed, the new key signs; the old one stays published.
    ClientSigningKey.objects.filter(pk=new.pk).update(signs_from=timezone.now() - timedelta(seconds=1))
    keys.client_keyset_forget()
    assert keys.client_keyset().active_kid == new.kid
    assert {k["kid"] for k in client.get("/bluesky/jwks.json").json()["keys"]} == {old_kid, new.kid}
