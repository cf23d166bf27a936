"""DPoP (RFC 9449): ES256 keys, proofs, per-origin server nonces, and the one-retry nonce dance."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluesky.atproto import jws
from bluesky.atproto.http import origin_of


class DpopKey:
    """One ES256 key pair; parsed once, its public JWK and proof header encoded once."""

    __slots__ = ("_key", "public_jwk", "_header_segment")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("DPoP keys must be P-256")
        self._key = private_key
        self.public_jwk = jws.public_jwk(private_key)
        self._header_segment = jws.encode_segment({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk})

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, str] | str) -> DpopKey:
        return cls(jws.private_key_from_jwk(json.loads(jwk) if isinstance(jwk, str) else jwk))

    def private_jwk(self) -> dict[str, str]:
        """For encrypted storage only: this holds the private key."""
        return jws.private_jwk(self._key)

    def private_jwk_json(self) -> str:
        return json.dumps(self.private_jwk())

    @classmethod
    def from_pem(cls, pem: str | bytes) -> DpopKey:
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("not an EC private key")
        return cls(key)

    def thumbprint(self) -> str:
        return jws.jwk_thumbprint(self.public_jwk)

    def proof(self, htm: str, htu: str, *, nonce: str | None = None, access_token: str | None = None,
              iat: int | None = None) -> str:
        """A fresh proof (new jti every call, so retries never reuse one)."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": htm.upper(),
            "htu": strip_query(htu),
            "iat": int(time.time()) if iat is None else iat,
        }
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["ath"] = jws.b64url(hashlib.sha256(access_token.encode()).digest())
        return jws.es256_jwt(self._key, self._header_segment, claims)

    def __repr__(self) -> str:  # never print key material
        return f"<DpopKey {self.thumbprint()[:8]}…>"


def strip_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


class DpopNonceStore:
    """The latest nonce each server origin gave us. Servers rotate them; we keep only the newest."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._nonces: dict[str, str] = dict(initial or {})
        self._lock = threading.Lock()
        self.changed = False

    def get(self, origin: str) -> str | None:
        with self._lock:
            return self._nonces.get(origin)

    def set(self, origin: str, nonce: str) -> None:
        with self._lock:
            if self._nonces.get(origin) != nonce:
                self._nonces[origin] = nonce
                self.changed = True

    def to_dict(self) -> dict[str, str]:
        with self._lock:
            return dict(self._nonces)

    @classmethod
    def from_dict(cls, data: dict[str, str] | None) -> DpopNonceStore:
        return cls({str(k): str(v) for k, v in (data or {}).items()})


def is_use_dpop_nonce_error(response: httpx.Response) -> bool:
    """Both forms: the auth server's 400 JSON and the resource server's 401 WWW-Authenticate."""
    if response.status_code == 401:
        challenge = response.headers.get("www-authenticate", "")
        if challenge.lower().startswith("dpop") and 'error="use_dpop_nonce"' in challenge:
            return True
    if response.status_code in (400, 401):
        try:
            return bool(json.loads(response.content).get("error") == "use_dpop_nonce")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return False
    return False


class DpopAuth(httpx.Auth):
    """Adds a DPoP proof (and `Authorization: DPoP` with `ath` for resource calls).

    Every response's `DPoP-Nonce` updates the store; a `use_dpop_nonce` challenge is answered
    with exactly one retry carrying the new nonce and a new jti.
    """

    # The nonce check reads the body, but SafeHttpClient drives this flow itself and hands it
    # responses already read under its size cap and deadline; httpx must never pre-read them.
    requires_response_body = False

    def __init__(self, key: DpopKey, nonces: DpopNonceStore, *, access_token: str | None = None) -> None:
        self.key = key
        self.nonces = nonces
        self.access_token = access_token

    def _sign(self, request: httpx.Request, origin: str) -> str | None:
        nonce = self.nonces.get(origin)
        request.headers["DPoP"] = self.key.proof(request.method, str(request.url), nonce=nonce,
                                                 access_token=self.access_token)
        if self.access_token:
            request.headers["Authorization"] = f"DPoP {self.access_token}"
        return nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = origin_of(str(request.url))
        used = self._sign(request, origin)
        response = yield request
        fresh = response.headers.get("DPoP-Nonce")
        if fresh:
            self.nonces.set(origin, fresh)
        if fresh and fresh != used and is_use_dpop_nonce_error(response):
            self._sign(request, origin)
            response = yield request
            again = response.headers.get("DPoP-Nonce")
            if again:
                self.nonces.set(origin, again)
