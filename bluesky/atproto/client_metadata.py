"""Client metadata: the document a confidential client publishes at its client_id URL, and the
special loopback client id for development (no document, no client authentication)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from bluesky.atproto.keys import ClientKeyset


def confidential_client_metadata(*, client_id: str, redirect_uris: list[str], scope: str,
                                 jwks_uri: str | None = None, keyset: ClientKeyset | None = None,
                                 client_name: str = "Elonara", client_uri: str | None = None,
                                 logo_uri: str | None = None, tos_uri: str | None = None,
                                 policy_uri: str | None = None) -> dict[str, Any]:
    if urlsplit(client_id).scheme != "https":
        raise ValueError("a confidential client_id must be an https URL")
    if (jwks_uri is None) == (keyset is None):
        raise ValueError("give exactly one of jwks_uri or keyset")
    document: dict[str, Any] = {
        "client_id": client_id,
        "client_name": client_name,
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": redirect_uris,
        "scope": scope,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "dpop_bound_access_tokens": True,
    }
    if jwks_uri:
        document["jwks_uri"] = jwks_uri
    else:
        document["jwks"] = keyset.jwks()  # type: ignore[union-attr]
    for name, value in (("client_uri", client_uri), ("logo_uri", logo_uri), ("tos_uri", tos_uri),
                        ("policy_uri", policy_uri)):
        if value:
            document[name] = value
    return document


def loopback_client_id(*, redirect_uri: str, scope: str) -> str:
    """`http://localhost?redirect_uri=...&scope=...`; the redirect must use 127.0.0.1 or [::1]."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1"):
        raise ValueError("the loopback client's redirect_uri must be http://127.0.0.1:<port>/...")
    return "http://localhost?" + urlencode({"redirect_uri": redirect_uri, "scope": scope})
