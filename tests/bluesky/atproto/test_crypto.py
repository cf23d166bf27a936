"""DPoP proofs, client assertions and PKCE, checked with an independent JWT library (PyJWT)."""

import base64
import hashlib
import json

import jwt
import pytest

from bluesky.atproto import ClientKey, ClientKeyset, DpopKey
from bluesky.atproto.oauth import pkce_pair


def decode_header(token):
    return jwt.get_unverified_header(token)


def test_dpop_proof_verifies_with_its_embedded_key():
    key = DpopKey.generate()
    proof = key.proof("post", "https://pds.example.com/xrpc/x?y=1#z", nonce="n1", access_token="tok")
    header = decode_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256" and "d" not in header["jwk"]
    public = jwt.PyJWK(header["jwk"], algorithm="ES256").key
    claims = jwt.decode(proof, public, algorithms=["ES256"])
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://pds.example.com/xrpc/x"
    assert claims["nonce"] == "n1"
    expected_ath = base64.urlsafe_b64encode(hashlib.sha256(b"tok").digest()).rstrip(b"=").decode()
    assert claims["ath"] == expected_ath


def test_every_proof_has_a_new_jti():
    key = DpopKey.generate()
    jtis = {
        jwt.decode(key.proof("GET", "https://a.example/"), options={"verify_signature": False})["jti"]
        for _ in range(50)
    }
    assert len(jtis) == 50


def test_dpop_key_round_trips_through_storage():
    key = DpopKey.generate()
    restored = DpopKey.from_private_jwk(key.private_jwk_json())
    assert restored.public_jwk == key.public_jwk
    # (the thumbprint in the repr may contain the letter d: look for the JWK member and its value)
    assert '"d"' not in repr(key) and key.private_jwk()["d"] not in repr(key)


def test_client_assertion_claims():
    key = ClientKey.generate("k1")
    token = key.client_assertion(client_id="https://app.example.com/meta.json", audience="https://auth.example.com")
    assert decode_header(token)["kid"] == "k1"
    public = jwt.PyJWK(key.public_jwk).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="https://auth.example.com")
    assert claims["iss"] == claims["sub"] == "https://app.example.com/meta.json"
    assert 0 < claims["exp"] - claims["iat"] <= 60


def test_keyset_keeps_old_keys_public_and_signs_bound_sessions_with_their_key():
    old, new = ClientKey.generate("old"), ClientKey.generate("new")
    keyset = ClientKeyset([new, old], active_kid="new")
    assert [k["kid"] for k in keyset.jwks()["keys"]] == ["new", "old"]
    assert all("d" not in k for k in keyset.jwks()["keys"])
    assert keyset.get("old") is old and keyset.get(None) is new  # an unknown kid: test_oauth_checks.py
    restored = ClientKey.from_pem("old", old.to_pem())
    assert restored.public_jwk == old.public_jwk
    with pytest.raises(ValueError):
        ClientKeyset([new], active_kid="missing")


def test_pkce_s256():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert json.dumps(challenge)  # url-safe, no padding
