"""Service-auth JWT checks (bluesky.atproto.service_auth): a token the App View forwards to our
feed generator is taken only when it is for us, for the method called, not expired, and signed by
the `#atproto` key its issuer's DID document names."""

from __future__ import annotations

import time

import pytest

from bluesky.atproto.repo import KeyUnavailable
from bluesky.atproto.service_auth import ServiceAuthError, bearer_token, verify_service_jwt
from tests.feeds.jwt_helpers import METHOD, service_jwt
from tests.network.frames import SigningKey

US = "did:plc:feedgenerator0000000000a"
BOB = "did:plc:bob00000000000000000000a"


def keys_of(table: dict[str, SigningKey], asked: list | None = None):
    def lookup(did: str, fresh: bool) -> str:
        if asked is not None:
            asked.append((did, fresh))
        if did not in table:
            raise KeyUnavailable("unknown")
        return table[did].multibase

    return lookup


@pytest.mark.parametrize("curve", ["k256", "p256"])
def test_a_good_token_names_its_sender(curve):
    key = SigningKey(curve)
    caller = verify_service_jwt(service_jwt(key, iss=BOB, aud=US), audience=US, method=METHOD,
                                keys=keys_of({BOB: key}))
    assert caller.did == BOB


def test_a_service_fragment_in_iss_names_the_account():
    key = SigningKey()
    caller = verify_service_jwt(service_jwt(key, iss=f"{BOB}#atproto_labeler", aud=US), audience=US, method=METHOD,
                                keys=keys_of({BOB: key}))
    assert caller.did == BOB


@pytest.mark.parametrize(("change", "error"), [
    ({"aud": "did:web:other.example"}, "BadJwtAudience"),
    ({"exp": time.time() - 120}, "JwtExpired"),
    ({"lxm": "app.bsky.feed.getTimeline"}, "BadJwtLexiconMethod"),
    ({"lxm": None}, "BadJwtLexiconMethod"),
    ({"exp": time.time() + 86_400}, "BadJwt"),
    ({"alg": "none"}, "BadJwt"),
    ({"alg": "HS256"}, "BadJwt"),
])
def test_refused_claims(change, error):
    key = SigningKey()
    claims = {"iss": BOB, "aud": US, **change}
    token = service_jwt(key, **claims)
    asked: list = []
    with pytest.raises(ServiceAuthError) as refused:
        verify_service_jwt(token, audience=US, method=METHOD, keys=keys_of({BOB: key}, asked))
    assert refused.value.error == error
    assert asked == []  # refused before any key was looked up


def test_a_token_a_few_seconds_past_expiry_is_taken_clocks_differ():
    key = SigningKey()
    token = service_jwt(key, iss=BOB, aud=US, exp=time.time() - 5)
    assert verify_service_jwt(token, audience=US, method=METHOD, keys=keys_of({BOB: key})).did == BOB


def test_signed_by_another_key_is_refused_after_one_fresh_look():
    key, other = SigningKey(), SigningKey()
    asked: list = []
    with pytest.raises(ServiceAuthError) as refused:
        verify_service_jwt(service_jwt(other, iss=BOB, aud=US), audience=US, method=METHOD,
                           keys=keys_of({BOB: key}, asked))
    assert refused.value.error == "BadJwtSignature"
    assert asked == [(BOB, False), (BOB, True)]


def test_a_rotated_key_is_found_by_resolving_again():
    old, new = SigningKey(), SigningKey()

    def lookup(did: str, fresh: bool) -> str:
        return (new if fresh else old).multibase

    assert verify_service_jwt(service_jwt(new, iss=BOB, aud=US), audience=US, method=METHOD, keys=lookup).did == BOB


def test_a_high_s_signature_is_refused():
    key = SigningKey()
    token = service_jwt(key, iss=BOB, aud=US)
    head, claims, _sig = token.split(".")
    from bluesky.atproto.jws import b64url

    high = f"{head}.{claims}.{b64url(key.sign(f'{head}.{claims}'.encode(), low_s=False))}"
    with pytest.raises(ServiceAuthError):
        verify_service_jwt(high, audience=US, method=METHOD, keys=keys_of({BOB: key}))


def test_a_sender_without_a_key_is_refused():
    key = SigningKey()
    with pytest.raises(ServiceAuthError) as refused:
        verify_service_jwt(service_jwt(key, iss=BOB, aud=US), audience=US, method=METHOD, keys=keys_of({}))
    assert refused.value.error == "BadJwtSignature"


@pytest.mark.parametrize("token", ["", "a.b", "not.a.jwt", "e30.e30.e30"])
def test_garbage_is_refused(token):
    with pytest.raises(ServiceAuthError):
        verify_service_jwt(token, audience=US, method=METHOD, keys=keys_of({}))


def test_bearer_token():
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("DPoP abc") is None
    assert bearer_token(None) is None
    assert bearer_token("Bearer ") is None
