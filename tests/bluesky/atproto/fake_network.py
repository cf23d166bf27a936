"""A malicious-or-honest AT Protocol network in one httpx.MockTransport handler.

Only for faults a real peer cannot produce on demand (another account's `sub`, lying metadata,
redirects, nonce loops). The honest path is tested against the official PDS in test_peer_flow.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx

ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
MALLORY = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm"
PLC = "https://plc.example.com"
PDS = "https://pds.example.com"
ISSUER = "https://auth.example.com"


def did_document(did: str, handle: str, pds: str) -> dict:
    return {
        "id": did,
        "alsoKnownAs": [f"at://{handle}"],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}],
    }


def auth_server_metadata(issuer: str = ISSUER) -> dict:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "pushed_authorization_request_endpoint": f"{issuer}/oauth/par",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["atproto", "transition:generic"],
        "authorization_response_iss_parameter_supported": True,
        "require_pushed_authorization_requests": True,
        "client_id_metadata_document_supported": True,
    }


@dataclass
class FakeNetwork:
    token_sub: str = ALICE
    token_type: str = "DPoP"
    token_scope: str = "atproto"
    asm_overrides: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)
    handles: dict = field(default_factory=dict)
    resource_issuer: dict = field(default_factory=dict)  # pds origin -> issuer named
    always_nonce_error: bool = False
    token_extra: dict = field(default_factory=dict)  # more fields in the token answer (id_token, ...)
    calls: list = field(default_factory=list)
    revoked: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.documents.setdefault(ALICE, did_document(ALICE, "alice.example.com", PDS))
        self.documents.setdefault(MALLORY, did_document(MALLORY, "mallory.example.com", PDS))
        self.handles.setdefault("alice.example.com", ALICE)
        self.handles.setdefault("mallory.example.com", MALLORY)
        self.resource_issuer.setdefault(PDS, ISSUER)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url).split("?", 1)[0]
        self.calls.append((request.method, url))
        if url.startswith(PLC + "/"):
            did = url[len(PLC) + 1 :].replace("%3A", ":")
            doc = self.documents.get(did)
            return httpx.Response(200, json=doc) if doc else httpx.Response(404, json={"message": "not found"})
        if url.endswith("/xrpc/com.atproto.identity.resolveHandle"):
            did = self.handles.get(request.url.params.get("handle", ""))
            return httpx.Response(200, json={"did": did}) if did else httpx.Response(400, json={"error": "x"})
        if url.endswith("/.well-known/oauth-protected-resource"):
            origin = url[: -len("/.well-known/oauth-protected-resource")]
            return httpx.Response(
                200, json={"resource": origin, "authorization_servers": [self.resource_issuer.get(origin, ISSUER)]}
            )
        if url == f"{ISSUER}/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={**auth_server_metadata(), **self.asm_overrides})
        if url.startswith(ISSUER + "/oauth/"):
            return self._oauth(request, url[len(ISSUER) + 7 :])
        return httpx.Response(404)

    def _oauth(self, request: httpx.Request, endpoint: str) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if "DPoP" not in request.headers and endpoint != "authorize":
            return httpx.Response(400, json={"error": "invalid_dpop_proof"})
        if self.always_nonce_error or not _has_nonce(request.headers["DPoP"]):
            return httpx.Response(400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": f"n{len(self.calls)}"})
        if endpoint == "par":
            return httpx.Response(
                201, json={"request_uri": "urn:ietf:params:oauth:request_uri:req-1", "expires_in": 60}
            )
        if endpoint == "token":
            return httpx.Response(
                200,
                json={
                    "access_token": "at-" + form.get("grant_type", ""),
                    "refresh_token": "rt-1",
                    "token_type": self.token_type,
                    "scope": self.token_scope,
                    "sub": self.token_sub,
                    "expires_in": 3600,
                    **self.token_extra,
                },
            )
        if endpoint == "revoke":
            self.revoked.append(form.get("token"))
            return httpx.Response(200)
        return httpx.Response(404)


def _has_nonce(proof: str) -> bool:
    import base64

    payload = proof.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return "nonce" in claims
