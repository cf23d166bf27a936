"""Elonara API tokens: a member's revocable long-lived token obtains short-lived access tokens.

The long-lived token is an opaque random secret (`elo_...`), stored as a SHA-256 hash and shown
once. An access token is a JWT signed by us (HS256 with a key derived from SECRET_KEY), with a
fixed issuer and audience, `member_id`, the member's DID and the permissions as claims, valid for
`ACCESS_TOKEN_LIFETIME`. Each use checks that its long-lived token is not revoked, so revoking
stops access at once. Bluesky tokens never appear in either.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bluesky.selectors import member_did_get
from core.errors import ApplicationError
from core.page_cache import PAGE_CACHE_SECONDS, VIEWER, page_key, page_version_key, versions_current
from core.sql import STAND_IN_ID, FixedQuery
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
        raise ApiTokenError(_("Choose at least one permission."))
    if not name.strip():
        raise ApiTokenError(_("Give the token a name, so you know later what uses it."))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(member=member, name=name.strip()[:100], permissions=wanted,
                                    secret_hash=_hash(secret))
    return CreatedApiToken(token=token, secret=secret)


# The own profile lists them on each cold build: the SQL compiled once (core.sql).
_LIVE_TOKENS_OF = FixedQuery(lambda member_id: ApiToken.objects.filter(member_id=member_id, revoked_at__isnull=True)
                             .order_by("-created_at", "-pk"), member_id=STAND_IN_ID)


def api_token_list_for_member(*, member: Member) -> list[ApiToken]:
    """The member's tokens not revoked, newest first."""
    return _LIVE_TOKENS_OF.all(member_id=member.pk)


def api_token_revoke(*, member: Member, token_id: int) -> bool:
    revoked = ApiToken.objects.filter(pk=token_id, member=member, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    return bool(revoked)


def api_access_token_issue(*, secret: str) -> tuple[str, int]:
    """Exchange a long-lived token for an access token: (JWT, lifetime in seconds)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        raise ApiTokenError(_("That is not an Elonara API token."))
    token = ApiToken.objects.select_related("member").filter(secret_hash=_hash(secret)).first()
    if token is None or token.revoked_at is not None or not token.member.is_active:
        raise ApiTokenError(_("This API token is unknown or was revoked."))
    now = timezone.now()
    claims = {
        "iss": _issuer(), "aud": AUDIENCE, "sub": str(token.member_id), "member_id": token.member_id,
        "did": member_did_get(member=token.member) or None, "permissions": token.permissions,
        "tid": token.pk, "jti": uuid.uuid4().hex, "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_LIFETIME).timestamp()),
    }
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), int(ACCESS_TOKEN_LIFETIME.total_seconds())


@dataclass(frozen=True)
class _KeptToken:
    """What a request needs of an API token's row, kept in the cache: never its secret's hash."""

    pk: int
    revoked: bool
    last_used_at: datetime | None
    member: Member


def _token_kept(*, token_id: int, member_id: Any) -> _KeptToken | None:
    """The token's row and its member, kept under the member's own version (VIEWER), which every
    change to their tokens (a revocation included) or their row (a deactivation) renews: a warm
    request reads them with no query, and a revocation is seen by the next one."""
    from members.middleware import member_without_password

    key = page_key("api-token", token_id)
    version_key = page_version_key(VIEWER, int(member_id)) if str(member_id).isdigit() else None
    found = cache.get_many([key, version_key] if version_key else [key])
    version, kept = found.get(version_key) if version_key else None, found.get(key)
    if version is not None and kept is not None and kept[0] == version:
        return kept[1]
    (version,) = versions_current([version_key], found) if version_key else (None,)
    row = ApiToken.objects.select_related("member").filter(pk=token_id).first()
    if row is None:
        return None
    token = _KeptToken(pk=row.pk, revoked=row.revoked_at is not None, last_used_at=row.last_used_at,
                       member=cast(Member, member_without_password(row.member)))
    if version is not None and str(row.member_id) == str(member_id):
        cache.set(key, (version, token), PAGE_CACHE_SECONDS)
    return token


@functools.lru_cache(maxsize=4096)
def _claims_signed(access_token: str, key: bytes, issuer: str) -> MappingProxyType[str, Any]:
    """The claims of an access token whose signature, audience, issuer and claims check out; kept
    per process (a script asks with one token many times in its 15 minutes), so only its expiry is
    checked again on later uses. A refused token raises and is never kept. The key and issuer
    are part of what is kept under: a new SECRET_KEY or public address refuses what was kept."""
    return MappingProxyType(jwt.decode(access_token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                                       options={"require": ["exp", "iat", "iss", "aud", "sub", "tid"]}))


def api_access_token_verify(access_token: str) -> tuple[Member, dict[str, Any]]:
    """The member and claims of a valid access token; `ApiTokenError` otherwise."""
    try:
        claims = dict(_claims_signed(access_token, _signing_key(), _issuer()))
    except jwt.PyJWTError as exc:
        raise ApiTokenError(_("The access token is invalid or expired.")) from exc
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= time.time():  # as PyJWT: expired at exp
        raise ApiTokenError(_("The access token is invalid or expired."))
    token_id, member_id = claims.get("tid"), claims.get("sub")
    token = _token_kept(token_id=token_id, member_id=member_id) if isinstance(token_id, int) else None
    if token is None or token.revoked or str(token.member.pk) != member_id or not token.member.is_active:
        raise ApiTokenError(_("The access token was revoked."))
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # renews the kept copy too
    return token.member, claims
