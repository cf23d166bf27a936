"""Service-auth JWTs as a PDS mints them for a feed generator, signed by a test repository key."""

from __future__ import annotations

import time

from bluesky.atproto.jws import b64url, encode_segment
from tests.network.frames import SigningKey

METHOD = "app.bsky.feed.getFeedSkeleton"


def service_jwt(key: SigningKey, *, iss: str, aud: str, lxm: str | None = METHOD, exp: float | None = None,
                alg: str | None = None) -> str:
    header = {"typ": "JWT", "alg": alg or ("ES256K" if key.curve == "k256" else "ES256")}
    claims: dict[str, object] = {"iss": iss, "aud": aud, "exp": int(exp if exp is not None else time.time() + 60),
                                 "iat": int(time.time()), "jti": b64url(time.time_ns().to_bytes(8, "big"))}
    if lxm is not None:
        claims["lxm"] = lxm
    signing_input = f"{encode_segment(header)}.{encode_segment(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"
