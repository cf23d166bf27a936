"""Our confidential client's signing keys (ES256, each with a `kid`) and client assertions."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluesky.atproto import jws
from bluesky.atproto.errors import ClientKeyMissingError

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds; the reference server refuses older assertions


class ClientKey:
    __slots__ = ("kid", "_key", "_header_segment", "public_jwk")

    def __init__(self, kid: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not kid:
            raise ValueError("a client key needs a kid")
        self.kid = kid
        self._key = private_key
        self.public_jwk = {**jws.public_jwk(private_key), "kid": kid, "alg": "ES256", "use": "sig"}
        self._header_segment = jws.encode_segment({"alg": "ES256", "kid": kid, "typ": "JWT"})

    @classmethod
    def generate(cls, kid: str | None = None) -> ClientKey:
        return cls(kid or f"elonara-{int(time.time())}-{secrets.token_hex(4)}", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, kid: str, pem: str | bytes) -> ClientKey:
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("client keys must be P-256")
        return cls(kid, key)

    def to_pem(self) -> str:
        """For encrypted storage only."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def client_assertion(self, *, client_id: str, audience: str, now: int | None = None) -> str:
        iat = int(time.time()) if now is None else now
        claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": secrets.token_urlsafe(16),
                  "iat": iat, "exp": iat + ASSERTION_LIFETIME}
        return jws.es256_jwt(self._key, self._header_segment, claims)

    def __repr__(self) -> str:
        return f"<ClientKey {self.kid}>"


@dataclass
class ClientKeyset:
    """All keys whose sessions may still be alive; `active_kid` signs new flows."""

    keys: list[ClientKey]
    active_kid: str = ""
    _by_kid: dict[str, ClientKey] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyset needs at least one key")
        self._by_kid = {k.kid: k for k in self.keys}
        if not self.active_kid:
            self.active_kid = self.keys[0].kid
        if self.active_kid not in self._by_kid:
            raise ValueError("the active kid is not in the keyset")

    @property
    def active(self) -> ClientKey:
        return self._by_kid[self.active_kid]

    def get(self, kid: str | None) -> ClientKey:
        """The key a session was bound to (the active key for none). A kid that is no longer here
        raises ClientKeyMissingError: signing with another key would only make the server refuse
        (or, worse, look like a different client), so the caller must end that session."""
        if not kid:
            return self.active
        key = self._by_kid.get(kid)
        if key is None:
            raise ClientKeyMissingError(kid=kid)
        return key

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public_jwk for k in self.keys]}
