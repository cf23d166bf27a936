"""Where the agents get the protocol client from: `bluesky.atproto` + `bluesky.network` when they
provide what is needed, else the interim stand-in (see _interim_atproto.py). One source for all
names, so error classes always match the client that raises them."""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace


@lru_cache(maxsize=1)
def protocol() -> SimpleNamespace:
    try:
        from bluesky.atproto import AtprotoError, PdsClient, TransportError, XrpcError
        from bluesky.network import identity_resolver, safe_http_client
    except ImportError:
        from bluesky.agents import _interim_atproto as interim

        return SimpleNamespace(
            source="interim",
            PdsClient=interim.PdsClient,
            XrpcError=interim.XrpcError,
            TransportError=interim.TransportError,
            AtprotoError=interim.AtprotoError,
            safe_http_client=interim.safe_http_client,
            identity_resolver=interim.identity_resolver,
        )
    return SimpleNamespace(
        source="bluesky.atproto",
        PdsClient=PdsClient,
        XrpcError=XrpcError,
        TransportError=TransportError,
        AtprotoError=AtprotoError,
        safe_http_client=safe_http_client,
        identity_resolver=identity_resolver,
    )
