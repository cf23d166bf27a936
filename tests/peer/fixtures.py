"""pytest plugin: the AT Protocol test peer (official PDS + OAuth server, PLC, App View on loopback).

Fixtures (for tests marked @pytest.mark.peer):
  peer          session: PeerState (pds_url, issuer, plc_url, appview_url, appview_did, accounts, ...)
  accounts      session: {"alice"|"bob"|"carol": Account(handle, did, password, app_password)}
  peer_consent  session: consent(authorization_url, account, scope=None) -> callback params;
                         peer_consent.deny(authorization_url) -> callback params with `error`
  app_host      session: AppHost at https://app.peer.internal:<port> (new port each session)
  new_app_host  function: factory; each call returns a fresh AppHost (new port, new client_id),
                closed at the end of the test

With ELONARA_PEER_STATE=<state file of `python -m tests.peer start`>, the running peer is used
instead of starting one.
"""

from __future__ import annotations

import os

import pytest

from tests.peer import consent as _consent
from tests.peer.apphost import AppHost
from tests.peer.runtime import PeerProcess, PeerState


@pytest.fixture(scope="session")
def peer():
    external = os.environ.get("ELONARA_PEER_STATE")
    if external:
        state = PeerState.load(external)
        try:
            os.kill(state.pid, 0)
        except OSError:
            pytest.fail(f"ELONARA_PEER_STATE={external}: its launcher (pid {state.pid}) is not running")
        yield state
        return
    process = PeerProcess()
    try:
        state = process.start()
    except Exception:
        process.stop()
        raise
    try:
        yield state
    finally:
        process.stop()


@pytest.fixture(scope="session")
def accounts(peer):
    return peer.accounts


class PeerConsent:
    """Callable: consent(authorization_url, account, scope=None) -> {"code", "state", "iss"}."""

    ConsentError = _consent.ConsentError

    def __call__(self, authorization_url: str, account, scope: str | None = None, **kwargs) -> dict[str, str]:
        return _consent.consent(authorization_url, account, scope, **kwargs)

    def deny(self, authorization_url: str) -> dict[str, str]:
        """The user presses "Deny": {"error": "access_denied", "error_description", "state", "iss"}."""
        return _consent.deny(authorization_url)


@pytest.fixture(scope="session")
def peer_consent(peer):
    return PeerConsent()


def _tls(peer):
    if peer.tls is None:
        pytest.fail("the peer's state file names no TLS files (start it with `python -m tests.peer start`)")
    return peer.tls


@pytest.fixture(scope="session")
def app_host(peer):
    host = AppHost(_tls(peer))
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def new_app_host(peer):
    hosts: list[AppHost] = []

    def make() -> AppHost:
        host = AppHost(_tls(peer))
        hosts.append(host)
        return host

    try:
        yield make
    finally:
        for host in hosts:
            host.close()


PEER_FIXTURES = {"peer", "accounts", "peer_consent", "app_host", "new_app_host"}


def pytest_collection_modifyitems(config, items):
    # A test that uses the peer is a peer test even if its author forgot the marker, so that
    # `-m "not peer"` (the fast tier) never starts the peer.
    for item in items:
        if PEER_FIXTURES.intersection(getattr(item, "fixturenames", ())) and not item.get_closest_marker("peer"):
            item.add_marker(pytest.mark.peer)
