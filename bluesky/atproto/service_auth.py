"""Inter-service JWTs (atproto "service auth"): the bearer token an App View or PDS sends to a
service such as a feed generator, signed by the requester's own atproto signing key.

Checks, in the order that spends the least on a bad token: shape and algorithm, then the claims
that need no key (`aud` is us, `lxm` is the method called, `exp` not passed), then the signature
against the `#atproto` key of the issuer's DID document. A signature that fails is tried once more
with a freshly resolved document, because the account may have rotated its key since the cached
copy was read. Django-free: the caller passes the key lookup.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bluesky.atproto.jws import b64url_decode
from bluesky.atproto.repo import KeyUnavailable, public_key_from_multikey, signature_valid
from bluesky.atproto.syntax import is_valid_did

# The two curves atproto signing keys use; both sign SHA-256 digests with low-S signatures.
ALGORITHMS = frozenset({"ES256K", "ES256"})
# Clocks differ between services: a token a few seconds past `exp` is still taken.
CLOCK_LEEWAY_SECONDS = 30
# Tokens are minted for one call and live about a minute; a far-future `exp` is a token kept for
# replay, refused.
MAX_LIFETIME_SECONDS = 3600

KeyLookup = Callable[[str, bool], str]
"""(did, fresh) -> the Multikey of the DID's atproto signing key; raises KeyUnavailable."""


class ServiceAuthError(Exception):
    """A token refused. `error` is the XRPC error name to answer with; `message` is safe to show."""

    def __init__(self, message: str, *, error: str = "AuthenticationRequired") -> None:
        super().__init__(message)
        self.message = message
        self.error = error


@dataclass(frozen=True, slots=True)
class ServiceCaller:
    did: str  # who asks (the token's `iss`, without a `#service` fragment)
    expires_at: float


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <jwt>` header, or None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _segment(text: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(text))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ServiceAuthError("The token is not a JWT.", error="BadJwt") from exc
    if not isinstance(value, dict):
        raise ServiceAuthError("The token is not a JWT.", error="BadJwt")
    return value


def verify_service_jwt(token: str, *, audience: str, method: str, keys: KeyLookup,
                       now: float | None = None) -> ServiceCaller:
    """Check a service-auth JWT meant for `audience` (our service DID) and the XRPC `method`;
    return who sent it. Raises ServiceAuthError with the XRPC error name otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ServiceAuthError("The token is not a JWT.", error="BadJwt")
    header, claims = _segment(parts[0]), _segment(parts[1])
    if header.get("alg") not in ALGORITHMS:
        raise ServiceAuthError("The token's signature algorithm is not accepted.", error="BadJwt")
    # Tokens of other kinds share the JWT shape: refuse them before any key is fetched.
    if header.get("typ") in ("at+jwt", "refresh+jwt", "dpop+jwt"):
        raise ServiceAuthError("That is not a service token.", error="BadJwtType")
    _check_claims(claims, audience=audience, method=method, now=time.time() if now is None else now)
    issuer = str(claims["iss"]).split("#", 1)[0]
    try:
        signature = b64url_decode(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise ServiceAuthError("The token's signature is unreadable.", error="BadJwtSignature") from exc
    message = f"{parts[0]}.{parts[1]}".encode("ascii")
    for fresh in (False, True):
        try:
            key = public_key_from_multikey(keys(issuer, fresh))
        except KeyUnavailable as exc:
            raise ServiceAuthError("The sender's signing key could not be found.",
                                   error="BadJwtSignature") from exc
        if signature_valid(key, signature, message):
            return ServiceCaller(did=issuer, expires_at=float(claims["exp"]))
    raise ServiceAuthError("The token's signature does not match the sender's key.", error="BadJwtSignature")


def _check_claims(claims: dict[str, Any], *, audience: str, method: str, now: float) -> None:
    iss, aud, exp, lxm = claims.get("iss"), claims.get("aud"), claims.get("exp"), claims.get("lxm")
    if not isinstance(iss, str) or not is_valid_did(iss.split("#", 1)[0]):
        raise ServiceAuthError("The token names no sender.", error="BadJwt")
    if aud != audience:
        raise ServiceAuthError("The token was meant for another service.", error="BadJwtAudience")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise ServiceAuthError("The token has no expiry.", error="BadJwt")
    if exp + CLOCK_LEEWAY_SECONDS < now:
        raise ServiceAuthError("The token has expired.", error="JwtExpired")
    if exp > now + MAX_LIFETIME_SECONDS:
        raise ServiceAuthError("The token lives too long.", error="BadJwt")
    # `lxm` binds the token to one method; a token without it could be replayed on any of ours.
    if lxm != method:
        raise ServiceAuthError("The token was minted for another method.", error="BadJwtLexiconMethod")
