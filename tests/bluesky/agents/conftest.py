"""Fixtures and helpers for the agents tests. `peer` / `accounts` come from tests/peer/."""

import secrets
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from bluesky.atproto import IdentityResolver, PdsClient, SafeHttpClient

# --- helpers shared by the peer and fault tests ----------------------------------------------


def attr(obj, name):
    """Fixture values may be objects or dicts."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


class WireCounter(httpx.BaseTransport):
    """Counts the XRPC methods that really go out on the wire, then passes the request on unchanged."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[path.removeprefix("/xrpc/") if path.startswith("/xrpc/") else path] += 1
        return self.inner.handle_request(request)


def http_client_with_transport(transport: httpx.BaseTransport) -> SafeHttpClient:
    """The project's SSRF-checked client over the given transport (URL checks still apply)."""
    return SafeHttpClient(allow_insecure=True, transport=transport)


def new_tid_like_rkey() -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "3" + "".join(secrets.choice(alphabet) for _ in range(12))


def resolver_with_http(http: SafeHttpClient) -> IdentityResolver:
    """The project's identity resolver over the given HTTP client, configured from settings."""
    return IdentityResolver(
        http=http, plc_url=settings.ATPROTO_PLC_URL, handle_resolver_url=settings.ATPROTO_HANDLE_RESOLVER_URL or None
    )


# --- peer fixtures and helpers (the `peer`/`accounts` fixtures come from tests/peer/) -------------


@pytest.fixture
def peer_settings(settings, peer):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_HANDLE_RESOLVER_URL = attr(peer, "pds_url").rstrip("/")
    settings.ATPROTO_PLC_URL = attr(peer, "plc_url").rstrip("/")
    settings.BLUESKY_RELAY_IDENTIFIER = ""
    settings.BLUESKY_RELAY_APP_PASSWORD = ""
    return settings


@pytest.fixture
def wire(peer_settings):
    counter = WireCounter(httpx.HTTPTransport())
    counter.http = http_client_with_transport(counter)
    return counter


def mention_post(target_handle: str, target_did: str, n: int = 0) -> dict:
    # Non-ASCII before the mention so UTF-8 byte offsets differ from character offsets.
    prefix = f"Olá! Café ☕ #{n}: "
    mention = f"@{target_handle}"
    start = len(prefix.encode())
    return {
        "$type": "app.bsky.feed.post",
        "text": f"{prefix}{mention} is invited 🎉",
        "createdAt": timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "langs": ["pt", "en"],
        "facets": [
            {
                "index": {"byteStart": start, "byteEnd": start + len(mention.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": target_did}],
            }
        ],
    }


def read_back(http, peer, uri: str) -> dict:
    """com.atproto.repo.getRecord, unauthenticated, exactly as any client would read the post."""
    did, collection, rkey = uri.removeprefix("at://").split("/")
    client = PdsClient(http=http, pds_url=attr(peer, "pds_url"), access_token=None)
    return client.get("com.atproto.repo.getRecord", params={"repo": did, "collection": collection, "rkey": rkey})
