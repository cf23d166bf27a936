"""Server discovery: the PDS's protected-resource metadata and its authorization server's metadata.

Checks from the atproto OAuth spec: the resource metadata names exactly one authorization server
and its `resource` is the PDS origin; the authorization server's `issuer` is the origin it was
fetched from, and it offers everything this client relies on (refused otherwise). When the
authorization server lists its `protected_resources`, a PDS it is used for must be among them
(checked by the OAuth client, which knows the PDS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bluesky.atproto.cache import TtlCache
from bluesky.atproto.errors import MetadataError, TransportError
from bluesky.atproto.http import SafeHttpClient, origin_of

METADATA_TTL = 60.0
# How old an answer a caller may accept on request (a refresh does: it only needs the PDS -> issuer
# link and the token endpoint, which rarely change; the DID document is what it checks fresh).
METADATA_KEEP = 600.0


@dataclass(frozen=True)
class AuthServerMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    pushed_authorization_request_endpoint: str
    revocation_endpoint: str | None
    scopes_supported: tuple[str, ...]
    # None when the server does not list them (then any PDS naming it may use it).
    protected_resources: tuple[str, ...] | None = None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def serves(self, pds_url: str) -> bool:
        return resource_listed(self.protected_resources, pds_url)


def resource_listed(protected_resources: tuple[str, ...] | list[str] | None, pds_url: str) -> bool:
    """Whether a PDS is among an authorization server's `protected_resources` (compared by origin)."""
    if protected_resources is None:
        return True
    return origin_of(pds_url) in {origin_of(r) for r in protected_resources}


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise MetadataError(f"That server's sign-in is not compatible with Elonara ({what}).", code="incompatible",
                            missing=what)


class MetadataResolver:
    """Fetches and validates both documents; caches validated answers for 60 seconds (a caller
    may accept answers up to `METADATA_KEEP` old with `max_age`)."""

    def __init__(self, *, http: SafeHttpClient, ttl: float = METADATA_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self._resources: TtlCache[str] = TtlCache(ttl, clock, keep=METADATA_KEEP)
        self._servers: TtlCache[AuthServerMetadata] = TtlCache(ttl, clock, keep=METADATA_KEEP)

    def _fetch(self, url: str) -> dict[str, Any]:
        try:
            document, _ = self.http.get_json(url)
        except TransportError as exc:
            raise MetadataError("That server's sign-in information could not be read.", code="unreachable",
                                status=exc.status) from exc
        return document

    def _check_endpoint(self, value: Any, what: str) -> str:
        _require(isinstance(value, str) and bool(value), what)
        parts = urlsplit(value)
        allowed = ("https", "http") if self.http.allow_insecure else ("https",)
        _require(parts.scheme in allowed and bool(parts.hostname) and not parts.fragment, what)
        return str(value)

    def authorization_server_for(self, pds_url: str, *, fresh: bool = False, max_age: float | None = None) -> str:
        """The issuer a PDS delegates to, from its protected-resource metadata."""
        origin = origin_of(pds_url)
        if not fresh and (issuer := self._resources.get(origin, max_age)):
            return issuer
        document = self._fetch(f"{origin}/.well-known/oauth-protected-resource")
        resource = document.get("resource")
        if not isinstance(resource, str) or origin_of(resource) != origin:
            raise MetadataError("That server describes a different server.", code="resource_mismatch")
        servers = document.get("authorization_servers")
        if not isinstance(servers, list) or len(servers) != 1 or not isinstance(servers[0], str):
            raise MetadataError("That server must name exactly one authorization server.", code="auth_servers")
        issuer = servers[0].rstrip("/")
        self._check_endpoint(issuer, "authorization server URL")
        self._resources.put(origin, issuer)
        return issuer

    def authorization_server(self, issuer: str, *, fresh: bool = False,
                             max_age: float | None = None) -> AuthServerMetadata:
        issuer = issuer.rstrip("/")
        if not fresh and (cached := self._servers.get(issuer, max_age)):
            return cached
        document = self._fetch(f"{origin_of(issuer)}/.well-known/oauth-authorization-server")
        if document.get("issuer") != issuer or origin_of(issuer) != issuer:
            raise MetadataError("That authorization server's identity does not match its address.",
                                code="issuer_mismatch")

        def offers(name: str, value: str) -> bool:
            values = document.get(name)
            return isinstance(values, list) and value in values

        _require(offers("response_types_supported", "code"), "response type code")
        _require(offers("grant_types_supported", "authorization_code"), "authorization_code grant")
        _require(offers("grant_types_supported", "refresh_token"), "refresh_token grant")
        _require(offers("code_challenge_methods_supported", "S256"), "PKCE S256")
        _require(offers("token_endpoint_auth_methods_supported", "private_key_jwt"), "private_key_jwt")
        _require(offers("token_endpoint_auth_methods_supported", "none"), "public clients")
        _require(offers("token_endpoint_auth_signing_alg_values_supported", "ES256"), "ES256 client assertions")
        _require(offers("dpop_signing_alg_values_supported", "ES256"), "ES256 DPoP")
        _require(offers("scopes_supported", "atproto"), "scope atproto")
        _require(document.get("authorization_response_iss_parameter_supported") is True, "iss parameter")
        _require(document.get("require_pushed_authorization_requests") is True, "required PAR")
        _require(document.get("client_id_metadata_document_supported") is True, "client metadata documents")
        revocation = document.get("revocation_endpoint")
        resources = document.get("protected_resources")
        _require(resources is None or (isinstance(resources, list) and all(isinstance(r, str) for r in resources)),
                 "protected_resources list")
        metadata = AuthServerMetadata(
            issuer=issuer,
            authorization_endpoint=self._check_endpoint(
                document.get("authorization_endpoint"), "authorization endpoint"),
            token_endpoint=self._check_endpoint(document.get("token_endpoint"), "token endpoint"),
            pushed_authorization_request_endpoint=self._check_endpoint(
                document.get("pushed_authorization_request_endpoint"), "PAR endpoint"),
            revocation_endpoint=self._check_endpoint(revocation, "revocation endpoint") if revocation else None,
            scopes_supported=tuple(document.get("scopes_supported") or ()),
            protected_resources=tuple(resources) if resources is not None else None,
            raw=document,
        )
        self._servers.put(issuer, metadata)
        return metadata
