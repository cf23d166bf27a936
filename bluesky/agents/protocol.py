"""Where the agents get the protocol client: `bluesky.atproto` for the client and its errors,
`bluesky.network` for the process-wide SSRF-safe HTTP client and identity resolver (rebuilt there
when settings change). One place, so tests and code agree on which instances are used."""

from __future__ import annotations

from types import SimpleNamespace

from bluesky import network
from bluesky.atproto import (
    AtprotoError,
    IdentityResolutionError,
    PdsClient,
    TransportError,
    UnsafeURLError,
    XrpcError,
)


def protocol() -> SimpleNamespace:
    return SimpleNamespace(
        PdsClient=PdsClient,
        XrpcError=XrpcError,
        TransportError=TransportError,
        UnsafeURLError=UnsafeURLError,
        AtprotoError=AtprotoError,
        IdentityResolutionError=IdentityResolutionError,
        safe_http_client=network.safe_http_client,
        identity_resolver=network.identity_resolver,
    )
