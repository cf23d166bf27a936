"""Faults a real peer cannot produce on demand: malicious servers, lying metadata, nonce loops."""

import pytest

from bluesky.atproto import (
    ClientConfig,
    IdentityResolver,
    MetadataError,
    MetadataResolver,
    OAuthClient,
    OAuthFlowError,
    SafeHttpClient,
)
from tests.bluesky.atproto.fake_network import ALICE, ISSUER, MALLORY, PDS, PLC, FakeNetwork


def client_for(network: FakeNetwork) -> OAuthClient:
    http = SafeHttpClient(transport=network.transport())
    resolver = IdentityResolver(http=http, plc_url=PLC, handle_resolver_url="https://resolver.example.com")
    config = ClientConfig(
        client_id="http://localhost?redirect_uri=x", redirect_uri="http://127.0.0.1:8000/cb", scope="atproto"
    )
    return OAuthClient(config, http=http, resolver=resolver)


def test_honest_fake_completes():
    network = FakeNetwork()
    client = client_for(network)
    pending = client.start_authorization("alice.example.com")
    assert pending.authorization_url.startswith(f"{ISSUER}/oauth/authorize?client_id=")
    tokens = client.complete_authorization(pending, code="code-1", iss=ISSUER)
    assert tokens.sub == ALICE and tokens.handle == "alice.example.com" and tokens.pds_url == PDS


def test_server_returning_another_accounts_sub_is_refused_and_token_revoked():
    network = FakeNetwork(token_sub=MALLORY)
    client = client_for(network)
    pending = client.start_authorization("alice.example.com")
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="code-1", iss=ISSUER)
    assert excinfo.value.code == "sub_mismatch"
    assert "rt-1" in network.revoked


def test_issuer_not_named_by_the_accounts_pds_is_refused():
    # Log in by server URL (no expected DID); by callback time the account's PDS names another
    # issuer. Only the uncached issuer verification can notice.
    network = FakeNetwork()
    client = client_for(network)
    pending = client.start_authorization(PDS)
    assert pending.expected_did is None
    network.resource_issuer[PDS] = "https://real-auth.example.com"
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="code-1", iss=ISSUER)
    assert excinfo.value.code == "issuer_mismatch"
    assert "rt-1" in network.revoked, "the untrusted token must be revoked"


def test_callback_iss_mismatch_refused_without_token_call():
    network = FakeNetwork()
    client = client_for(network)
    pending = client.start_authorization("alice.example.com")
    before = len(network.calls)
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="code-1", iss="https://evil.example.com")
    assert excinfo.value.code == "issuer_mismatch"
    assert len(network.calls) == before


@pytest.mark.parametrize(
    "override, missing",
    [
        ({"issuer": "https://other.example.com"}, "issuer_mismatch"),
        ({"require_pushed_authorization_requests": False}, "incompatible"),
        ({"code_challenge_methods_supported": ["plain"]}, "incompatible"),
        ({"dpop_signing_alg_values_supported": ["ES256K"]}, "incompatible"),
        ({"authorization_response_iss_parameter_supported": False}, "incompatible"),
        ({"scopes_supported": ["openid"]}, "incompatible"),
    ],
)
def test_lying_or_lacking_metadata_is_refused(override, missing):
    network = FakeNetwork(asm_overrides=override)
    http = SafeHttpClient(transport=network.transport())
    with pytest.raises(MetadataError) as excinfo:
        MetadataResolver(http=http).authorization_server(ISSUER)
    assert excinfo.value.code == missing


def test_wrong_token_type_refused():
    network = FakeNetwork(token_type="Bearer")
    client = client_for(network)
    pending = client.start_authorization("alice.example.com")
    with pytest.raises(OAuthFlowError) as excinfo:
        client.complete_authorization(pending, code="c", iss=ISSUER)
    assert excinfo.value.code == "token_type"


def test_nonce_retry_happens_exactly_once():
    network = FakeNetwork(always_nonce_error=True)
    client = client_for(network)
    with pytest.raises(OAuthFlowError):
        client.start_authorization("alice.example.com")
    par_calls = [c for c in network.calls if c[1].endswith("/oauth/par")]
    assert len(par_calls) == 2


def test_nonce_is_remembered_per_origin():
    network = FakeNetwork()
    client = client_for(network)
    client.start_authorization("alice.example.com")
    client.start_authorization("alice.example.com")
    par_calls = [c for c in network.calls if c[1].endswith("/oauth/par")]
    assert len(par_calls) == 3  # first flow: challenge + retry; second flow: one request


def test_warm_start_is_one_request():
    network = FakeNetwork()
    client = client_for(network)
    client.start_authorization("alice.example.com")
    before = client.http.request_count
    client.start_authorization("alice.example.com")
    assert client.http.request_count - before == 1
