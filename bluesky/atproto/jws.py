"""Compact ES256 JWS signing for DPoP proofs and client assertions.

Hand-rolled because both token kinds are tiny and signed on hot paths: the key is parsed once and
the constant header is encoded once, which keeps a proof well under 100 µs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_SIGNATURE_ALGORITHM = ec.ECDSA(hashes.SHA256())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":"), sort_keys=False).encode())


def es256_sign(private_key: ec.EllipticCurvePrivateKey, signing_input: str) -> str:
    der = private_key.sign(signing_input.encode("ascii"), _SIGNATURE_ALGORITHM)
    r, s = decode_dss_signature(der)
    return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def es256_jwt(private_key: ec.EllipticCurvePrivateKey, header_segment: str, payload: dict[str, Any]) -> str:
    signing_input = f"{header_segment}.{encode_segment(payload)}"
    return f"{signing_input}.{es256_sign(private_key, signing_input)}"


def public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def private_key_from_jwk(jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" not in jwk:
        raise ValueError("not a P-256 private JWK")
    d = int.from_bytes(b64url_decode(jwk["d"]), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def private_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    d = private_key.private_numbers().private_value
    return {**public_jwk(private_key), "d": b64url(d.to_bytes(32, "big"))}


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of a P-256 public key."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical.encode())
    return b64url(digest.finalize())
