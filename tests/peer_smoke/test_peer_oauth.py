"""The peer's OAuth fixtures against the PDS's real authorization server.

A confidential client (private_key_jwt) whose metadata and JWKS the app host serves over TLS:
a PAR the PDS accepts proves the PDS fetched and trusted them; then peer_consent signs in and
consents through the provider's API, and the code really redeems for a DPoP-bound token.
This is a minimal client written for the test, not the project's OAuth client.
"""

import base64
import hashlib
import secrets
import time
import urllib.parse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

pytestmark = pytest.mark.peer

SCOPE = "atproto transition:generic"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MiniClient:
    def __init__(self, peer, host) -> None:
        self.host = host
        self.client_id = host.url_for("/oauth/client-metadata.json")
        self.redirect_uri = host.url_for("/oauth/callback")
        self.client_key = ec.generate_private_key(ec.SECP256R1())
        self.dpop_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "k-" + secrets.token_hex(4)
        public = ECAlgorithm.to_jwk(self.client_key.public_key(), as_dict=True)
        host.serve_json("/oauth/jwks.json", {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]})
        host.serve_json(
            "/oauth/client-metadata.json",
            {
                "client_id": self.client_id,
                "client_name": "Elonara peer smoke test",
                "application_type": "web",
                "redirect_uris": [self.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": SCOPE,
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "ES256",
                "jwks_uri": host.url_for("/oauth/jwks.json"),
                "dpop_bound_access_tokens": True,
            },
        )
        self.meta = httpx.get(f"{peer.pds_url}/.well-known/oauth-authorization-server", timeout=30).json()
        self.issuer = self.meta["issuer"]
        self.nonce: str | None = None
        self.http = httpx.Client(timeout=30)

    def assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 60,
        }
        return jwt.encode(claims, self.client_key, algorithm="ES256", headers={"kid": self.kid})

    def dpop(self, method: str, url: str, access_token: str | None = None) -> str:
        claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if self.nonce:
            claims["nonce"] = self.nonce
        if access_token:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        jwk = ECAlgorithm.to_jwk(self.dpop_key.public_key(), as_dict=True)
        return jwt.encode(claims, self.dpop_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})

    def post(self, url: str, form: dict) -> httpx.Response:
        for _ in range(2):
            form = {
                **form,
                "client_id": self.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion(),
            }
            response = self.http.post(url, data=form, headers={"DPoP": self.dpop("POST", url)})
            if "dpop-nonce" in response.headers:
                self.nonce = response.headers["dpop-nonce"]
            if response.status_code == 400 and response.json().get("error") == "use_dpop_nonce":
                continue
            return response
        return response

    def authorize(self, *, scope: str = SCOPE, login_hint: str | None = None) -> tuple[str, str, str]:
        """PAR; returns (authorization_url, state, code_verifier)."""
        state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        form = {
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        if login_hint:
            form["login_hint"] = login_hint
        response = self.post(self.meta["pushed_authorization_request_endpoint"], form)
        assert response.status_code == 201, response.text
        query = urllib.parse.urlencode({"client_id": self.client_id, "request_uri": response.json()["request_uri"]})
        return f"{self.meta['authorization_endpoint']}?{query}", state, verifier

    def redeem(self, code: str, verifier: str) -> httpx.Response:
        return self.post(
            self.meta["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
        )


@pytest.fixture
def client(peer, new_app_host):
    c = MiniClient(peer, new_app_host())
    yield c
    c.http.close()


def test_pds_fetches_client_metadata_from_the_app_host_and_accepts_the_par(client):
    client.authorize()
    # The PDS really fetched both documents over TLS from https://app.peer.internal:<port>.
    assert client.host.fetched("/oauth/client-metadata.json") >= 1
    assert client.host.fetched("/oauth/jwks.json") >= 1


def test_consent_returns_a_code_that_redeems_for_a_dpop_token(peer, accounts, peer_consent, client):
    alice = accounts["alice"]
    url, state, verifier = client.authorize(login_hint=alice.handle)
    params = peer_consent(url, alice)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == state
    assert params["iss"] == client.issuer

    token = client.redeem(params["code"], verifier)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["sub"] == alice.did
    assert body["token_type"] == "DPoP"
    assert set(body["scope"].split()) == set(SCOPE.split())

    # The token works at the PDS (DPoP-bound).
    url = f"{peer.pds_url}/xrpc/com.atproto.server.getSession"
    for _ in range(2):
        response = client.http.get(
            url,
            headers={
                "Authorization": f"DPoP {body['access_token']}",
                "DPoP": client.dpop("GET", url, body["access_token"]),
            },
        )
        if response.status_code == 401 and "dpop-nonce" in response.headers:
            client.nonce = response.headers["dpop-nonce"]
            continue
        break
    assert response.status_code == 200, response.text
    assert response.json()["did"] == alice.did

    # A code redeems once.
    assert client.redeem(params["code"], verifier).status_code == 400


def test_consent_may_grant_a_subset_of_the_scope(accounts, peer_consent, client):
    bob = accounts["bob"]
    url, _, verifier = client.authorize()
    params = peer_consent(url, bob, scope="atproto")
    token = client.redeem(params["code"], verifier).json()
    assert token["sub"] == bob.did
    assert token["scope"] == "atproto"


def test_deny_returns_access_denied(peer_consent, client):
    url, state, verifier = client.authorize()
    params = peer_consent.deny(url)
    assert params["error"] == "access_denied"
    assert params["state"] == state
    assert "code" not in params


def test_wrong_password_fails_at_sign_in(accounts, peer_consent, client):
    url, _, _ = client.authorize()
    with pytest.raises(peer_consent.ConsentError) as info:
        peer_consent(url, accounts["carol"], password="not-her-password")
    assert info.value.step == "sign-in"
    assert info.value.status in (400, 401)
