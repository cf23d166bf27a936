"""Token-answer checks, the callback's request budget, and the refresh's issuer re-verification,
against the malicious-or-honest fake network (faults the official PDS cannot produce on demand)."""

from dataclasses import replace

import pytest

from bluesky.atproto import (
    ClientConfig,
    ClientKey,
    ClientKeyMissingError,
    ClientKeyset,
    IdentityResolver,
    MetadataError,
    MetadataResolver,
    OAuthClient,
    OAuthFlowError,
    PendingAuthorization,
    SafeHttpClient,
)
from tests.bluesky.atproto.fake_network import ALICE, ISSUER, MALLORY, PDS, PLC, FakeNetwork, did_document

PDS2 = "https://pds2.example.com"
OTHER_ISSUER = "https://other-auth.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build(network: FakeNetwork, *, keyset: ClientKeyset | None = None) -> tuple[OAuthClient, Clock]:
    clock = Clock()
    http = SafeHttpClient(transport=network.transport())
    resolver = IdentityResolver(http=http, plc_url=PLC, handle_resolver_url="https://resolver.example.com",
                                clock=clock)
    config = ClientConfig(client_id="https://app.example.com/client-metadata.json" if keyset else
                          "http://localhost?redirect_uri=x", redirect_uri="http://127.0.0.1:8000/cb",
                          scope="atproto", keyset=keyset)
    return OAuthClient(config, http=http, resolver=resolver, metadata=MetadataResolver(http=http, clock=clock)), clock


def connected(network: FakeNetwork, **kwargs):
    client, clock = build(network, **kwargs)
    pending = client.start_authorization("alice.example.com")
    tokens = client.complete_authorization(pending, code="code-1", iss=ISSUER)
    return client, clock, pending, tokens


def calls_since(network: FakeNetwork, before: int) -> list[tuple[str, str]]:
    return network.calls[before:]


# --- token answers and authorization-server metadata ------------------------------------------------
@pytest.mark.parametrize("token_type", ["dpop", "DPOP", "Bearer", ""])
def test_token_type_must_be_exactly_dpop(token_type):
    network = FakeNetwork(token_type=token_type)
    client, _ = build(network)
    pending = client.start_authorization("alice.example.com")
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="c", iss=ISSUER)
    assert excinfo.value.code == "token_type"
    assert "rt-1" in network.revoked, "a token we refuse is revoked, not just dropped"


def test_an_id_token_in_the_answer_is_refused():
    network = FakeNetwork(token_extra={"id_token": "eyJhbGciOiJub25lIn0.e30."})
    client, _ = build(network)
    pending = client.start_authorization("alice.example.com")
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="c", iss=ISSUER)
    assert excinfo.value.code == "id_token"


def test_protected_resources_that_omit_the_pds_are_refused():
    network = FakeNetwork(asm_overrides={"protected_resources": ["https://elsewhere.example.com"]})
    client, _ = build(network)
    with pytest.raises(MetadataError) as excinfo:
        client.start_authorization("alice.example.com")
    assert excinfo.value.code == "resource_not_listed"
    assert not [c for c in network.calls if c[1].endswith("/oauth/par")]


def test_protected_resources_that_list_the_pds_are_fine():
    network = FakeNetwork(asm_overrides={"protected_resources": [PDS + "/", "https://elsewhere.example.com"]})
    client, _ = build(network)
    tokens = client.complete_authorization(client.start_authorization("alice.example.com"), code="c", iss=ISSUER)
    assert tokens.sub == ALICE


def test_login_by_server_url_checks_the_accounts_pds_against_protected_resources():
    # Started from PDS (listed); the account turns out to live on PDS2 with the same issuer, which
    # the authorization server does not list as one of its resources.
    network = FakeNetwork(asm_overrides={"protected_resources": [PDS]})
    network.documents[ALICE] = did_document(ALICE, "alice.example.com", PDS2)
    client, _ = build(network)
    pending = client.start_authorization(PDS)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="c", iss=ISSUER)
    assert excinfo.value.code == "issuer_mismatch"
    assert "rt-1" in network.revoked


# --- the callback's cost -------------------------------------------------------------------------------
def test_callback_costs_three_requests_even_after_caches_expired():
    network = FakeNetwork()
    client, clock = build(network)
    pending = client.start_authorization("alice.example.com")
    clock.advance(300)  # the member took five minutes on the consent page
    before = len(network.calls)
    client.complete_authorization(pending, code="c", iss=ISSUER)
    assert calls_since(network, before) == [
        ("POST", f"{ISSUER}/oauth/token"),
        ("GET", f"{PLC}/{ALICE}"),
        ("GET", f"{PDS}/.well-known/oauth-protected-resource"),
    ]


def test_a_pending_authorization_without_its_endpoints_is_refused_before_any_request():
    """Sign-ins started before the endpoints were kept (minutes-long, long expired) are no longer
    completed by a second code path: they are refused, and nothing is sent anywhere."""
    network = FakeNetwork()
    client, _ = build(network)
    stored = client.start_authorization("alice.example.com").to_dict()
    for newer in ("token_endpoint", "revocation_endpoint", "protected_resources"):
        stored.pop(newer, None)
    before = len(network.calls)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(PendingAuthorization.from_dict(stored), code="c", iss=ISSUER)
    assert excinfo.value.code == "state_unknown" and len(network.calls) == before


# --- refresh ---------------------------------------------------------------------------------------------
def test_refresh_refuses_an_account_that_moved_to_another_issuer():
    network = FakeNetwork()
    client, clock, pending, tokens = connected(network)
    network.documents[ALICE] = did_document(ALICE, "alice.example.com", PDS2)
    network.resource_issuer[PDS2] = OTHER_ISSUER
    clock.advance(120)
    before = len(network.calls)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.refresh(tokens, dpop_key=pending.dpop_key)
    assert excinfo.value.code == "issuer_changed"
    assert not [c for c in calls_since(network, before) if c[1].startswith(ISSUER)], \
        "the refresh token must not go to the old server"


def test_refresh_follows_a_move_to_another_pds_of_the_same_issuer():
    network = FakeNetwork()
    client, clock, pending, tokens = connected(network)
    network.documents[ALICE] = did_document(ALICE, "alice.example.com", PDS2)
    clock.advance(120)
    fresh = client.refresh(tokens, dpop_key=pending.dpop_key)
    assert fresh.pds_url == PDS2


def test_a_typical_refresh_costs_the_token_post_and_one_fresh_lookup():
    network = FakeNetwork()
    client, clock, pending, tokens = connected(network)
    clock.advance(120)  # past the short identity cache, within the metadata's
    before = len(network.calls)
    client.refresh(tokens, dpop_key=pending.dpop_key)
    assert calls_since(network, before) == [("GET", f"{PLC}/{ALICE}"), ("POST", f"{ISSUER}/oauth/token")]


def test_refresh_right_after_sign_in_reads_the_did_document_fresh():
    network = FakeNetwork()
    client, _, pending, tokens = connected(network)
    before = len(network.calls)
    client.refresh(tokens, dpop_key=pending.dpop_key)
    assert calls_since(network, before) == [("GET", f"{PLC}/{ALICE}"), ("POST", f"{ISSUER}/oauth/token")]


def test_an_account_that_moved_seconds_ago_is_caught_at_the_next_refresh():
    # Issue 24: a DID document cached for up to a minute was trusted at the issuer re-check.
    network = FakeNetwork()
    client, clock, pending, tokens = connected(network)
    network.documents[ALICE] = did_document(ALICE, "alice.example.com", PDS2)
    network.resource_issuer[PDS2] = OTHER_ISSUER
    clock.advance(5)
    before = len(network.calls)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.refresh(tokens, dpop_key=pending.dpop_key)
    assert excinfo.value.code == "issuer_changed"
    assert not [c for c in calls_since(network, before) if c[1].startswith(ISSUER)]


def test_refresh_without_a_readable_identity_sends_nothing():
    network = FakeNetwork()
    client, clock, pending, tokens = connected(network)
    del network.documents[ALICE]
    clock.advance(120)
    before = len(network.calls)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.refresh(tokens, dpop_key=pending.dpop_key)
    assert excinfo.value.code == "issuer_unverified"
    assert not [c for c in calls_since(network, before) if c[1].startswith(ISSUER)]


def test_refresh_answer_for_another_account_has_its_own_code():
    network = FakeNetwork()
    client, _, pending, tokens = connected(network)
    network.token_sub = MALLORY
    with pytest.raises(OAuthFlowError) as excinfo:
        client.refresh(tokens, dpop_key=pending.dpop_key)
    assert excinfo.value.code == "refresh_sub_mismatch"


def test_a_session_whose_client_key_is_gone_fails_clearly():
    network = FakeNetwork()
    client, _, pending, tokens = connected(network, keyset=ClientKeyset([ClientKey.generate("key-1")]))
    assert tokens.client_kid == "key-1"
    client.config = replace(client.config, keyset=ClientKeyset([ClientKey.generate("key-2")]))
    before = len(network.calls)
    with pytest.raises(ClientKeyMissingError) as excinfo:
        client.refresh(tokens, dpop_key=pending.dpop_key)
    assert excinfo.value.code == "client_key_missing"
    assert not [c for c in calls_since(network, before) if c[1].startswith(ISSUER)]
    with pytest.raises(ClientKeyMissingError):
        client.revoke(tokens, dpop_key=pending.dpop_key)


def test_keyset_get_no_longer_falls_back_for_an_unknown_kid():
    old, new = ClientKey.generate("old"), ClientKey.generate("new")
    keyset = ClientKeyset([new, old], active_kid="new")
    assert keyset.get("old") is old and keyset.get(None) is new
    with pytest.raises(ClientKeyMissingError):
        keyset.get("gone")


# --- a narrower scope for one request (proving an account, nothing more) ------------------------------

def test_a_request_may_ask_less_than_the_client_scope_never_more():
    network = FakeNetwork()
    client, _ = build(network)
    wide = replace(client.config, scope="atproto repo:app.bsky.feed.post?action=create")
    client.config = wide
    before = len(network.calls)
    for bad in ("repo:app.bsky.feed.post?action=create", "atproto transition:generic"):
        with pytest.raises(OAuthFlowError) as info:
            client.start_authorization("alice.example.com", scope=bad)
        assert info.value.code == "scope_not_allowed"
    assert calls_since(network, before) == []  # refused before any request
    pending = client.start_authorization("alice.example.com", scope="atproto")
    assert pending.expected_did == ALICE
