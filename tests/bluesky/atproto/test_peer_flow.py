"""The whole OAuth flow against the official Bluesky PDS (test peer), as both client kinds."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from bluesky.atproto import (
    ClientConfig,
    ClientKey,
    ClientKeyset,
    IdentityResolver,
    InvalidTokenError,
    OAuthClient,
    OAuthTokenError,
    PdsClient,
    SafeHttpClient,
    XrpcError,
    confidential_client_metadata,
    loopback_client_id,
)

pytestmark = pytest.mark.peer

SCOPE = "atproto transition:generic"


def network(peer):
    http = SafeHttpClient(allow_insecure=True)
    resolver = IdentityResolver(http=http, plc_url=peer.plc_url, handle_resolver_url=peer.pds_url)
    return http, resolver


@pytest.fixture
def confidential_client(peer, new_app_host):
    host = new_app_host()
    keyset = ClientKeyset([ClientKey.generate("test-key-1")])
    client_id = host.url_for("/client-metadata.json")
    redirect = host.url_for("/callback")
    host.serve_json("/jwks.json", keyset.jwks())
    host.serve_json("/client-metadata.json", confidential_client_metadata(
        client_id=client_id, redirect_uris=[redirect], scope=SCOPE, jwks_uri=host.url_for("/jwks.json")))
    http, resolver = network(peer)
    return OAuthClient(ClientConfig(client_id=client_id, redirect_uri=redirect, scope=SCOPE, keyset=keyset),
                       http=http, resolver=resolver)


@pytest.fixture
def loopback_client(peer):
    redirect = "http://127.0.0.1:8765/bluesky/callback/"
    http, resolver = network(peer)
    config = ClientConfig(client_id=loopback_client_id(redirect_uri=redirect, scope=SCOPE), redirect_uri=redirect,
                          scope=SCOPE)
    return OAuthClient(config, http=http, resolver=resolver)


def mention_post(text_handle: str, did: str) -> dict:
    text = f"Hello @{text_handle}, see you there! ✨"
    start = text.encode().index(f"@{text_handle}".encode())
    return {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "facets": [{"index": {"byteStart": start, "byteEnd": start + len(f"@{text_handle}".encode())},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}]}],
    }


def full_flow(client: OAuthClient, login_input: str, account, bob, peer_consent):
    pending = client.start_authorization(login_input)
    query = parse_qs(urlsplit(pending.authorization_url).query)
    assert set(query) == {"client_id", "request_uri"}  # nothing else goes through the browser
    assert query["client_id"] == [client.config.client_id]
    params = peer_consent(pending.authorization_url, account)
    assert params["state"] == pending.state
    tokens = client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    assert tokens.sub == account.did
    assert tokens.handle == account.handle
    assert tokens.has_scope("atproto", "transition:generic")

    pds = PdsClient(http=client.http, pds_url=tokens.pds_url, access_token=tokens.access_token,
                    dpop_key=pending.dpop_key)
    record = mention_post(bob.handle, bob.did)
    created = pds.post("com.atproto.repo.createRecord",
                       json={"repo": tokens.sub, "collection": "app.bsky.feed.post", "record": record})
    rkey = created["uri"].rsplit("/", 1)[1]
    stored = pds.get("com.atproto.repo.getRecord",
                     params={"repo": tokens.sub, "collection": "app.bsky.feed.post", "rkey": rkey})
    assert stored["value"] == record

    refreshed = client.refresh(tokens, dpop_key=pending.dpop_key)
    assert refreshed.access_token != tokens.access_token
    with pytest.raises(InvalidTokenError):
        pds.get("com.atproto.server.getSession")  # the old access token died with the refresh
    fresh_pds = PdsClient(http=client.http, pds_url=tokens.pds_url, access_token=refreshed.access_token,
                          dpop_key=pending.dpop_key, nonce_store=pds.nonces)
    assert fresh_pds.get("com.atproto.server.getSession")["did"] == account.did

    client.revoke(refreshed, dpop_key=pending.dpop_key)
    with pytest.raises(OAuthTokenError) as excinfo:
        client.refresh(refreshed, dpop_key=pending.dpop_key)
    assert excinfo.value.error == "invalid_grant"


def test_confidential_client_by_handle(confidential_client, accounts, peer_consent):
    full_flow(confidential_client, accounts["alice"].handle, accounts["alice"], accounts["bob"], peer_consent)


def test_loopback_client_by_handle(loopback_client, accounts, peer_consent):
    full_flow(loopback_client, "@" + accounts["carol"].handle.upper(), accounts["carol"], accounts["bob"],
              peer_consent)


def test_confidential_client_by_did(confidential_client, accounts, peer_consent):
    full_flow(confidential_client, accounts["bob"].did, accounts["bob"], accounts["alice"], peer_consent)


def test_login_by_server_url(loopback_client, peer, accounts, peer_consent):
    pending = loopback_client.start_authorization(peer.pds_url)
    assert pending.expected_did is None
    params = peer_consent(pending.authorization_url, accounts["alice"])
    tokens = loopback_client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    assert tokens.sub == accounts["alice"].did


def test_narrower_grant_is_reported(confidential_client, accounts, peer_consent):
    pending = confidential_client.start_authorization(accounts["alice"].handle)
    params = peer_consent(pending.authorization_url, accounts["alice"], scope="atproto")
    tokens = confidential_client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    assert tokens.scope.split() == ["atproto"]
    pds = PdsClient(http=confidential_client.http, pds_url=tokens.pds_url, access_token=tokens.access_token,
                    dpop_key=pending.dpop_key)
    with pytest.raises(XrpcError) as excinfo:
        pds.post("com.atproto.repo.createRecord", json={
            "repo": tokens.sub, "collection": "app.bsky.feed.post",
            "record": mention_post(accounts["bob"].handle, accounts["bob"].did)})
    assert excinfo.value.status == 403


def test_code_cannot_be_used_twice(loopback_client, accounts, peer_consent):
    pending = loopback_client.start_authorization(accounts["alice"].handle)
    params = peer_consent(pending.authorization_url, accounts["alice"])
    loopback_client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    with pytest.raises(Exception) as excinfo:
        loopback_client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    assert getattr(excinfo.value, "code", "") == "token_refused"
