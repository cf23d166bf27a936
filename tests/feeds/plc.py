"""Registering a service DID in the test network's PLC directory, as the official dev environment
does for its test feed generators: a genesis operation naming a `#bsky_fg` service, signed by a
rotation key, posted to the directory under the DID it hashes to."""

from __future__ import annotations

import base64
import hashlib

import httpx
import libipld

from bluesky.atproto.jws import b64url
from tests.network.frames import SigningKey


def did_key(key: SigningKey) -> str:
    return f"did:key:{key.multibase}"


def plc_register_service(plc_url: str, *, service_id: str, service_type: str, endpoint: str) -> str:
    """A new did:plc whose document names `#<service_id>` at `endpoint`; returns the DID."""
    key = SigningKey("k256")
    operation = {
        "type": "plc_operation",
        "rotationKeys": [did_key(key)],
        "verificationMethods": {"atproto": did_key(key)},
        "alsoKnownAs": [],
        "services": {service_id: {"type": service_type, "endpoint": endpoint}},
        "prev": None,
    }
    operation["sig"] = b64url(key.sign(libipld.encode_dag_cbor(operation)))
    digest = hashlib.sha256(libipld.encode_dag_cbor(operation)).digest()
    did = "did:plc:" + base64.b32encode(digest).decode().lower()[:24]
    response = httpx.post(f"{plc_url}/{did}", json=operation, timeout=10)
    response.raise_for_status()
    return did
