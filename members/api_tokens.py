"""Elonara API tokens: a member's revocable long-lived token obtains short-lived access tokens.

The long-lived token is an opaque random secret (`elo_...`), stored as a SHA-256 hash and shown
once. An access token is a JWT signed by us (HS256 with a key derived from SECRET_KEY), with a
fixed issuer and audience, `member_id`, the member's DID and the permissions as claims, valid for
`ACCESS_TOKEN_LIFETIME`. Each use checks that its long-lived token is not revoked, so revoking
stops access at once. Bluesky tokens never appear in either.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bluesky.selectors import member_did_get
from core.errors import ApplicationError
from members.models import ApiToken, Member

ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
AUDIENCE = "elonara-api"
ALGORITHM = "HS256"
SECRET_PREFIX = "elo_"
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiTokenError(ApplicationError):
    """A token that cannot be used; the message is safe to show (it never repeats the token)."""

    code = "invalid_token"
    http_status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def http_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="elonara-api", error="invalid_token"'}


def _issuer() -> str:
    return settings.ELONARA_PUBLIC_URL


def _signing_key() -> bytes:
    # A key of its own (not SECRET_KEY itself), so a token can never double as another signature.
    return hashlib.sha256(b"elonara-api-access-token:" + settings.SECRET_KEY.encode()).digest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedApiToken:
    token: ApiToken
    secret: str  # shown once, never stored


@transaction.atomic
def api_token_create(*, member: Member, name: str, permissions: list[str]) -> CreatedApiToken:
    wanted = sorted(set(permissions))
    if not wanted or not set(wanted) <= set(ApiToken.Permission.values):
        raise ApiTokenError("Choose at least one permission.")
    if not name.strip():
        raise ApiTokenError("Give the token a name, so you know later what uses it.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(member=member, name=name.strip()[:100], permissions=wanted,
                                    secret_hash=_hash(secret))
    return CreatedApiToken(token=token, secret=secret)


def api_token_revoke(*, member: Member, token_id: int) -> bool:
    revoked = ApiToken.objects.filter(pk=token_id, member=member, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    return bool(revoked)


def api_access_token_issue(*, secret: str) -> tuple[str, int]:
    """Exchange a long-lived token for an access token: (JWT, lifetime in seconds)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        raise ApiTokenError("That is not an Elonara API token.")
    token = ApiToken.objects.select_related("member").filter(secret_hash=_hash(secret)).first()
    if token is None or token.revoked_at is not None or not token.member.is_active:
        raise ApiTokenError("This API token is unknown or was revoked.")
    now = timezone.now()
    claims = {
        "iss": _issuer(), "aud": AUDIENCE, "sub": str(token.member_id), "member_id": token.member_id,
        "did": member_did_get(member=token.member) or None, "permissions": token.permissions,
        "tid": token.pk, "jti": uuid.uuid4().hex, "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_LIFETIME).timestamp()),
    }
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), int(ACCESS_TOKEN_LIFETIME.total_seconds())


def api_access_token_verify(access_token: str) -> tuple[Member, dict[str, Any]]:
    """The member and claims of a valid access token; `ApiTokenError` otherwise."""
    try:
        claims = jwt.decode(
            access_token, _signing_key(), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=_issuer(),
            options={"require": ["exp", "iat", "iss", "aud", "sub", "tid"]},
        )
    except jwt.PyJWTError as exc:
        raise ApiTokenError("The access token is invalid or expired.") from exc
    token_id = claims.get("tid")
    token = (ApiToken.objects.select_related("member").filter(pk=token_id).first()
             if isinstance(token_id, int | str) else None)
    if (token is None or token.revoked_at is not None or str(token.member_id) != claims["sub"]
            or not token.member.is_active):
        raise ApiTokenError("The access token was revoked.")
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.member, claims
