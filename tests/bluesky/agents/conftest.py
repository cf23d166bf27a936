import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Admin pages render {% static %}; the manifest storage of production needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    # config/settings_test.py sets no FIELD_ENCRYPTION_KEYS and DEBUG is off, so give the tests a key.
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI="]


@pytest.fixture(autouse=True)
def _login_url(settings):
    # The members app's login page may not exist yet; login_required only needs a URL to redirect to.
    settings.LOGIN_URL = "/members/login/"


# --- helpers shared by the peer and fault tests ----------------------------------------------

import secrets  # noqa: E402
from collections import Counter  # noqa: E402

import httpx  # noqa: E402

from bluesky.agents.protocol import protocol  # noqa: E402


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


def http_client_with_transport(transport: httpx.BaseTransport):
    """The project's SSRF-safe client (or the interim one) over the given transport."""
    p = protocol()
    if p.source == "interim":
        from bluesky.agents._interim_atproto import InterimHttp

        return InterimHttp(transport=transport)
    from bluesky.atproto.http import SafeHttpClient

    return SafeHttpClient(transport=transport)


def new_tid_like_rkey() -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "3" + "".join(secrets.choice(alphabet) for _ in range(12))


def resolver_with_http(http):
    """The project's identity resolver (or the interim one) over the given HTTP client."""
    p = protocol()
    if p.source == "interim":
        from bluesky.agents._interim_atproto import IdentityResolver

        return IdentityResolver(http=http)
    from bluesky.atproto import IdentityResolver

    return IdentityResolver(http=http)
