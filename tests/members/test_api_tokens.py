"""Elonara API tokens: created on the profile, exchanged for short-lived signed access tokens, each
permission opening only its endpoints; anything expired, revoked, tampered or foreign is a 401."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from bluesky.models import BlueskyIdentity
from elonara import services as elonara_services
from members import api_tokens
from members.models import ApiToken, Member

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    # permission -> (method, path) that needs it
    "read": ("get", "/api/events/"),
    "events": ("post", "/api/events/{event}/rsvp/"),
    "invitations": ("get", "/api/invitations/batches/999999/"),
}


@pytest.fixture
def ann():
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    BlueskyIdentity.objects.create(
        member=member, did="did:plc:ewvi7nxzyoun6zhxrhs64oiz", handle="ann.test", pds_url="https://pds.example.com",
        issuer="https://pds.example.com", scope="atproto", access_token="BLUESKY-ACCESS-SECRET",
        refresh_token="BLUESKY-REFRESH-SECRET", dpop_private_jwk='{"kty":"EC"}', connected_at=timezone.now(),
    )
    return member


@pytest.fixture
def event(ann):
    start = timezone.now() + timedelta(days=2)
    return elonara_services.event_create(host=ann, title="Picnic", starts_at=start,
                                         ends_at=start + timedelta(hours=2), venue="Park")


def _access(secret: str, client: Client | None = None) -> str:
    response = (client or Client()).post("/api/auth/token/", {"api_token": secret}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    return body["access_token"]


def _call(access: str, permission: str, event) -> int:
    method, path = ENDPOINTS[permission]
    client = Client()
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    if method == "post":
        return client.post(path.format(event=event.pk), {"status": "going"}, content_type="application/json",
                           **kwargs).status_code
    return client.get(path.format(event=event.pk), **kwargs).status_code


def test_token_is_created_on_the_profile_shown_once_and_stored_as_a_hash(client, ann):
    client.force_login(ann)
    page = client.post("/members/me/api-tokens/", {"name": "script", "permissions": ["read", "events"]})
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    secret = page.context["created"].secret
    assert secret.startswith("elo_") and secret in page.content.decode()
    token = ApiToken.objects.get()
    assert token.permissions == ["events", "read"] and secret not in json.dumps(list(ApiToken.objects.values()),
                                                                               default=str)
    profile = client.get("/members/me/", follow=True).content.decode()
    assert "script" in profile and secret not in profile


@pytest.mark.parametrize("granted", ["read", "events", "invitations"])
def test_each_permission_allows_only_its_endpoints(ann, event, granted):
    access = _access(api_tokens.api_token_create(member=ann, name="t", permissions=[granted]).secret)
    for permission in ENDPOINTS:
        status = _call(access, permission, event)
        if permission == granted:
            assert status in (200, 404), (permission, status)  # 404: the batch does not exist, but it got in
        else:
            assert status == 403, (permission, status)


def test_rsvp_through_the_api_is_the_members_answer(ann, event):
    access = _access(api_tokens.api_token_create(member=ann, name="t", permissions=["events"]).secret)
    assert _call(access, "events", event) == 200
    assert event.rsvps.get(member=ann).status == "going"


def test_claims_name_the_member_and_never_a_bluesky_token(ann, event):
    access = _access(api_tokens.api_token_create(member=ann, name="t", permissions=["read"]).secret)
    payload = access.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["member_id"] == ann.pk and claims["did"] == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert claims["permissions"] == ["read"] and claims["aud"] == "elonara-api"
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "BLUESKY-ACCESS-SECRET" not in decoded and "BLUESKY-REFRESH-SECRET" not in decoded
    assert "BLUESKY" not in access


def _forged(claims: dict, *, key: bytes | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or api_tokens._signing_key(), algorithm=algorithm)


def test_refused_tokens_get_401(ann, event, settings):
    created = api_tokens.api_token_create(member=ann, name="t", permissions=["read"])
    good = _access(created.secret)
    claims = jwt.decode(good, options={"verify_signature": False})
    now = int(time.time())
    header, payload, signature = good.split(".")
    unsigned_none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    refused = {
        "expired": _forged({**claims, "iat": now - 3600, "exp": now - 60}),
        "tampered": f"{header}.{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{signature}",
        "other key": _forged(claims, key=b"x" * 32),
        "wrong audience": _forged({**claims, "aud": "someone-else"}),
        "wrong issuer": _forged({**claims, "iss": "https://evil.example"}),
        "alg none": f"{unsigned_none}.{payload}.",
        "garbage": "not-a-jwt",
        "the long-lived token itself": created.secret,
    }
    for name, token in refused.items():
        response = Client().get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401, name
        assert response["WWW-Authenticate"].startswith("Bearer"), name
    assert Client().get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200


def test_a_token_used_before_is_refused_once_it_expires(ann, event, monkeypatch):
    # Its signature is checked once per process (api_tokens._claims_signed); its expiry every time.
    created = api_tokens.api_token_create(member=ann, name="t", permissions=["read"])
    access = _access(created.secret)
    assert _call(access, "read", event) == 200
    expires = jwt.decode(access, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(api_tokens.time, "time", lambda: expires + 1)
    response = Client().get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 401 and response.json()["detail"] == "The access token is invalid or expired."


def test_revoking_stops_access_at_once(client, ann, event):
    created = api_tokens.api_token_create(member=ann, name="t", permissions=["read"])
    access = _access(created.secret)
    assert _call(access, "read", event) == 200
    client.force_login(ann)
    client.post(f"/members/me/api-tokens/{created.token.pk}/revoke/")
    assert _call(access, "read", event) == 401
    refused = Client().post("/api/auth/token/", {"api_token": created.secret}, content_type="application/json")
    assert refused.status_code == 401


def test_last_used_is_recorded(ann, event):
    created = api_tokens.api_token_create(member=ann, name="t", permissions=["read"])
    assert created.token.last_used_at is None
    _call(_access(created.secret), "read", event)
    assert ApiToken.objects.get().last_used_at is not None


def test_another_member_cannot_revoke(client, ann):
    created = api_tokens.api_token_create(member=ann, name="t", permissions=["read"])
    client.force_login(Member.objects.create_user(username="eve", password="pw-long-enough-123"))
    client.post(f"/members/me/api-tokens/{created.token.pk}/revoke/")
    assert ApiToken.objects.get().revoked_at is None


def test_api_is_rate_limited_with_retry_after(ann, event, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": (3, 600)}
    access = _access(api_tokens.api_token_create(member=ann, name="t", permissions=["read"]).secret)
    statuses = [_call(access, "read", event) for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = Client().get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 601


def test_a_warm_api_token_request_reads_nothing_from_the_database_and_a_revocation_is_seen_at_once(
        ann, event, django_assert_num_queries):
    # Issue 35: the token row is kept under the member's own version (no query on a warm request);
    # revoking it, or deactivating the member, renews that version: the next request is refused.
    secret = api_tokens.api_token_create(member=ann, name="script", permissions=["read"]).secret
    access = _access(secret)
    client = Client()
    for _ in range(2):  # the first reads and keeps the row, the events list and the last use
        assert client.get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    api_tokens.api_token_revoke(member=ann, token_id=ApiToken.objects.get().pk)
    assert client.get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    # A second token, then the member deactivated by update() (no save signal).
    other = _access(api_tokens.api_token_create(member=ann, name="two", permissions=["read"]).secret)
    assert client.get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200
    Member.objects.filter(pk=ann.pk).update(is_active=False)
    assert client.get("/api/events/", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 401
