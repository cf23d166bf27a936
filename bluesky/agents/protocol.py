"""Where the agents get the protocol client: `bluesky.atproto`, with the process-wide HTTP client
and identity resolver from `bluesky.network` when that module exists.

Until `bluesky/network.py` lands, equivalent instances are built here from the same settings
(one per distinct configuration, so tests that override settings get matching ones).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from django.conf import settings

from bluesky.atproto import (
    AtprotoError,
    IdentityResolutionError,
    IdentityResolver,
    PdsClient,
    SafeHttpClient,
    TransportError,
    UnsafeURLError,
    XrpcError,
)

_lock = threading.Lock()
_http_clients: dict[bool, SafeHttpClient] = {}
_resolvers: dict[tuple, IdentityResolver] = {}


def _fallback_safe_http_client() -> SafeHttpClient:
    allow = bool(settings.ATPROTO_ALLOW_INSECURE_HOSTS)
    with _lock:
        if allow not in _http_clients:
            _http_clients[allow] = SafeHttpClient(allow_insecure=allow)
        return _http_clients[allow]


def _fallback_identity_resolver() -> IdentityResolver:
    http = _fallback_safe_http_client()
    key = (id(http), settings.ATPROTO_PLC_URL, settings.ATPROTO_HANDLE_RESOLVER_URL)
    with _lock:
        if key not in _resolvers:
            _resolvers[key] = IdentityResolver(
                http=http,
                plc_url=settings.ATPROTO_PLC_URL,
                handle_resolver_url=settings.ATPROTO_HANDLE_RESOLVER_URL or None,
            )
        return _resolvers[key]


def protocol() -> SimpleNamespace:
    try:
        from bluesky.network import identity_resolver, safe_http_client
    except ImportError:
        safe_http_client, identity_resolver = _fallback_safe_http_client, _fallback_identity_resolver
    return SimpleNamespace(
        PdsClient=PdsClient,
        XrpcError=XrpcError,
        TransportError=TransportError,
        UnsafeURLError=UnsafeURLError,
        AtprotoError=AtprotoError,
        IdentityResolutionError=IdentityResolutionError,
        safe_http_client=safe_http_client,
        identity_resolver=identity_resolver,
    )
