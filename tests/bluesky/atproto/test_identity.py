"""Handle and DID syntax, DNS-first resolution, two-way verification, caching."""

import threading

import httpx
import pytest

from bluesky.atproto import IdentityResolutionError, IdentityResolver, SafeHttpClient, is_valid_did, is_valid_handle
from bluesky.atproto.identity import normalize_handle
from tests.bluesky.atproto.fake_network import ALICE, PDS, PLC, FakeNetwork, did_document


@pytest.mark.parametrize(
    "handle, ok",
    [
        ("alice.bsky.social", True),
        ("a.co", True),
        ("xn--ls8h.example.com", True),
        ("jay.bsky.social", True),
        ("nodot", False),
        ("-bad.example.com", False),
        ("bad-.example.com", False),
        ("a..b.com", False),
        ("alice.local", False),
        ("alice.invalid", False),
        ("alice.onion", False),
        ("1.2.3.4", False),
        ("alice.test", False),
        ("a" * 64 + ".com", False),
        ("alice.bsky.social.", False),
        ("al ice.com", False),
    ],
)
def test_handle_syntax(handle, ok):
    assert is_valid_handle(handle) is ok


def test_test_tld_only_on_a_local_network():
    assert is_valid_handle("alice.test", allow_test_tld=True)


def test_normalize_handle():
    assert normalize_handle("  @Alice.Bsky.Social ") == "alice.bsky.social"


@pytest.mark.parametrize(
    "did, ok",
    [
        ("did:plc:z72i7hdynmk6r22z27h6tvur", True),
        ("did:plc:Z72i7hdynmk6r22z27h6tvur", False),
        ("did:plc:z72i7hdynmk6r22z27h6tvu", False),
        ("did:web:example.com", True),
        ("did:web:example.com:user:alice", False),
        ("did:key:zQ3sh", False),
        ("did:plc:z72i7hdynmk6r22z27h6tvu1", False),
    ],
)
def test_did_syntax(did, ok):
    assert is_valid_did(did) is ok


@pytest.mark.parametrize("did", ["did:web:10.0.0.1%3A8080", "did:web:localhost", "did:web:..",
                                 "did:web:localhost%3A2583", "did:web:printer.local", "did:web:example.com%3A8443"])
def test_did_web_hosts_refused_before_any_request(did):
    # The syntax is the first guard; the HTTP client's address check is the second. Here the
    # first one alone must hold: no request is made at all.
    def no_request(request):
        pytest.fail(f"requested {request.url}")

    resolver = IdentityResolver(http=SafeHttpClient(transport=httpx.MockTransport(no_request)), plc_url=PLC,
                                dns_txt=lambda name: [])
    with pytest.raises(IdentityResolutionError) as caught:
        resolver.resolve_did(did)
    assert caught.value.code == "invalid_did"


def resolver_with(network, dns=None, handle_resolver=None):
    http = SafeHttpClient(transport=network.transport())
    return IdentityResolver(
        http=http, plc_url=PLC, handle_resolver_url=handle_resolver, dns_txt=dns or (lambda name: [])
    )


def test_dns_txt_wins_and_the_document_must_point_back():
    network = FakeNetwork()
    resolver = resolver_with(network, dns=lambda name: [f"did={ALICE}"] if name == "_atproto.alice.example.com" else [])
    identity = resolver.resolve("@Alice.Example.com")
    assert (identity.did, identity.handle, identity.pds_url, identity.handle_verified) == (
        ALICE,
        "alice.example.com",
        PDS,
        True,
    )


def test_conflicting_dns_records_fail():
    network = FakeNetwork()
    resolver = resolver_with(network, dns=lambda name: [f"did={ALICE}", "did=did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"])
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver.resolve("alice.example.com")
    assert excinfo.value.code == "ambiguous_handle"


def test_handle_that_the_document_does_not_confirm_is_refused():
    network = FakeNetwork()
    network.documents[ALICE] = did_document(ALICE, "someone-else.example.com", PDS)
    resolver = resolver_with(network, handle_resolver="https://resolver.example.com")
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver.resolve("alice.example.com")
    assert excinfo.value.code == "handle_mismatch"


def test_from_a_did_an_unverifiable_handle_shows_invalid():
    network = FakeNetwork()
    network.handles["alice.example.com"] = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
    resolver = resolver_with(network, handle_resolver="https://resolver.example.com")
    identity = resolver.resolve(ALICE)
    assert identity.handle == "handle.invalid" and not identity.handle_verified


def test_document_id_must_match():
    network = FakeNetwork()
    network.documents[ALICE] = {**network.documents[ALICE], "id": "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"}
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver_with(network).resolve_did(ALICE)
    assert excinfo.value.code == "bad_document"


def test_well_known_fallback_when_dns_has_nothing():
    def handler(request):
        if request.url.path == "/.well-known/atproto-did":
            return httpx.Response(200, text=ALICE + "\n")
        return FakeNetwork().handle(request)

    http = SafeHttpClient(transport=httpx.MockTransport(handler))
    resolver = IdentityResolver(http=http, plc_url=PLC, dns_txt=lambda name: [])
    assert resolver.resolve_handle("alice.example.com") == ALICE


def test_answers_are_cached_until_fresh_is_asked():
    network = FakeNetwork()
    resolver = resolver_with(network, handle_resolver="https://resolver.example.com")
    resolver.resolve("alice.example.com")
    calls = len(network.calls)
    resolver.resolve("alice.example.com")
    assert len(network.calls) == calls
    resolver.resolve("alice.example.com", fresh=True)
    assert len(network.calls) == calls + 2


def test_slow_handles_do_not_stall_another_members_resolution():
    # Four members' handles sit on servers that hold the well-known request open; a fifth member's
    # handle answers in DNS and must resolve while those are still held.
    release = threading.Event()
    held = threading.Semaphore(0)

    def handler(request):
        if request.url.path == "/.well-known/atproto-did":
            held.release()
            release.wait(30)
            return httpx.Response(404)
        return FakeNetwork().handle(request)

    http = SafeHttpClient(transport=httpx.MockTransport(handler))
    resolver = IdentityResolver(http=http, plc_url=PLC,
                                dns_txt=lambda name: [f"did={ALICE}"] if name == "_atproto.alice.example.com" else [])

    def quietly(handle):
        try:
            resolver.resolve_handle(handle)
        except IdentityResolutionError:
            pass

    slow = [threading.Thread(target=quietly, args=(f"slow{i}.example.com",), daemon=True) for i in range(4)]
    for thread in slow:
        thread.start()
    try:
        for _ in slow:
            assert held.acquire(timeout=10)
        answer = {}
        done = threading.Event()

        def fast():
            answer["did"] = resolver.resolve_handle("alice.example.com")
            done.set()

        threading.Thread(target=fast, daemon=True).start()
        assert done.wait(8), "another member's slow server stalled this resolution"
        assert answer["did"] == ALICE
    finally:
        release.set()
        for thread in slow:
            thread.join(10)
