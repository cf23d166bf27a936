"""pytest plugin: Elonara pointed at the test peer (used by bluesky, browser and invitations tests)."""

import pytest

from bluesky import clients


@pytest.fixture
def peer_settings(settings, peer):
    """Point the app at the local network (http, loopback, *.test handles)."""
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_HANDLE_RESOLVER_URL = peer.pds_url
    settings.ATPROTO_PLC_URL = peer.plc_url
    settings.BLUESKY_APPVIEW = f"{peer.appview_did}#bsky_appview"
    clients.reset()
    yield settings
    clients.reset()


@pytest.fixture
def confidential_app(peer_settings, new_app_host, live_server):
    """Elonara as a confidential client: the PDS fetches our metadata and JWKS over TLS from the
    app host, which forwards to the live server."""
    host = new_app_host()
    host.proxy_to(live_server.url)
    peer_settings.ELONARA_PUBLIC_URL = host.url
    peer_settings.CSRF_TRUSTED_ORIGINS = [host.url]
    clients.reset()
    return host


@pytest.fixture
def loopback_app(peer_settings):
    peer_settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    clients.reset()
    return peer_settings
