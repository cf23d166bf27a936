"""Resource limits on every outbound request: the size cap holds while streaming (also on DPoP-signed
calls, with or without Content-Length, on the decoded size of compressed bodies), and one total
deadline covers name resolution, connect, headers and body.

Deadline tests use real servers of ours on loopback that drip their answer; size tests stream
from an httpx.MockTransport so the bytes a malicious server pushed can be counted exactly.
"""

import functools
import time
import tracemalloc

import httpx
import pytest

from bluesky.atproto import (
    DpopAuth,
    DpopKey,
    DpopNonceStore,
    IdentityResolutionError,
    IdentityResolver,
    PdsClient,
    SafeHttpClient,
    TransportError,
)
from bluesky.atproto.http import DEFAULT_MAX_BYTES
from tests.bluesky.atproto.fake_network import ALICE, ISSUER, PDS, PLC, FakeNetwork
from tests.bluesky.atproto.public_hosts import HttpsSite, LoopbackInternet, make_ca, public_dns
from tests.bluesky.atproto.servers import (
    CountingStream,
    DripRelay,
    ScriptedServer,
    deflate_bomb,
    gzip_bomb,
    http_response,
    in_chunks,
    repeated,
)
from tests.bluesky.atproto.test_faults import client_for

LIMIT = 1000
PUSHED = 5_000_000
# What may be read past the cap: one transport chunk and the decoder's window, not the body.
READ_SLACK = 100_000


def dpop() -> DpopAuth:
    return DpopAuth(DpopKey.generate(), DpopNonceStore())


@pytest.fixture
def server():
    servers = []

    def start(script, **kwargs):
        servers.append(ScriptedServer(script, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


# --- size ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("declared_length", [True, False])
@pytest.mark.parametrize("signed", [False, True], ids=["plain", "dpop"])
def test_body_cap_holds_while_streaming(declared_length, signed):
    stream = CountingStream(repeated(b"x" * 4096, PUSHED))
    headers = {"content-length": str(PUSHED)} if declared_length else {}
    http = SafeHttpClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, headers=headers, stream=stream)),
                          max_bytes=LIMIT)
    with pytest.raises(TransportError) as excinfo:
        http.request("POST", "https://auth.example.com/oauth/token", data={"grant_type": "x"},
                     auth=dpop() if signed else None)
    assert excinfo.value.code == "too_large"
    assert stream.produced < READ_SLACK, f"read {stream.produced} bytes of a {PUSHED}-byte answer"


@functools.cache
def bomb(encoding: str) -> bytes:
    return {"gzip": gzip_bomb, "deflate": deflate_bomb}[encoding](50_000_000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("signed", [False, True], ids=["plain", "dpop"])
def test_compression_bombs_are_capped_on_the_decoded_size(encoding, signed):
    body = bomb(encoding)
    assert len(body) < 100_000  # 50 MB once decoded
    http = SafeHttpClient(transport=httpx.MockTransport(lambda r: httpx.Response(
        200, headers={"content-encoding": encoding}, stream=CountingStream(in_chunks(body)))), max_bytes=LIMIT)
    tracemalloc.start()
    try:
        with pytest.raises(TransportError) as excinfo:
            http.request("GET", "https://pds.example.com/xrpc/x", auth=dpop() if signed else None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert excinfo.value.code == "too_large"
    assert peak < 5_000_000, f"decoding held {peak} bytes in memory"


def test_small_compressed_answers_are_decoded():
    payload = b'{"ok": true}'
    http = SafeHttpClient(transport=httpx.MockTransport(lambda r: httpx.Response(
        200, headers={"content-encoding": "gzip", "content-type": "application/json"},
        content=__import__("gzip").compress(payload))))
    document, response = http.get_json("https://pds.example.com/x")
    assert document == {"ok": True}
    assert "content-encoding" not in response.headers


def test_encodings_we_did_not_offer_are_refused():
    seen = []

    def handler(request):
        seen.append(request.headers.get("accept-encoding", ""))
        return httpx.Response(200, headers={"content-encoding": "br"}, content=b"\x1b\xff\xff\x0f" * 10)

    with pytest.raises(TransportError) as excinfo:
        SafeHttpClient(transport=httpx.MockTransport(handler)).request("GET", "https://pds.example.com/x")
    assert excinfo.value.code == "content_encoding"
    assert "br" not in seen[0]


def bombing(network: FakeNetwork, target: str) -> tuple[httpx.MockTransport, list[CountingStream]]:
    """The honest fake network, except that one endpoint streams an endless answer."""
    streams: list[CountingStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url).split("?", 1)[0]
        body = request.content.decode(errors="replace")
        hit = {
            "par": url == f"{ISSUER}/oauth/par",
            "token": url == f"{ISSUER}/oauth/token" and "grant_type=authorization_code" in body,
            "refresh": url == f"{ISSUER}/oauth/token" and "grant_type=refresh_token" in body,
            "revoke": url == f"{ISSUER}/oauth/revoke",
            "xrpc": url.startswith(f"{PDS}/xrpc/"),
        }[target]
        if hit:
            streams.append(CountingStream(repeated(b"y" * 4096, PUSHED)))
            return httpx.Response(400, headers={"content-type": "application/json"}, stream=streams[-1])
        return network.handle(request)

    return httpx.MockTransport(handler), streams


@pytest.mark.parametrize("target", ["par", "token", "refresh", "revoke", "xrpc"])
def test_every_oauth_call_is_capped(target):
    network = FakeNetwork()
    client = client_for(network)
    transport, streams = bombing(network, target)
    client.http = SafeHttpClient(transport=transport)
    client.resolver.http = client.metadata.http = client.http
    with pytest.raises(TransportError) as excinfo:
        pending = client.start_authorization("alice.example.com")
        tokens = client.complete_authorization(pending, code="c", iss=ISSUER)
        if target == "refresh":
            client.refresh(tokens, dpop_key=pending.dpop_key)
        if target == "revoke":
            client.revoke(tokens, dpop_key=pending.dpop_key)
        if target == "xrpc":
            PdsClient(http=client.http, pds_url=PDS, access_token=tokens.access_token,
                      dpop_key=pending.dpop_key).get("com.atproto.server.getSession")
    assert excinfo.value.code == "too_large"
    # The client's own cap (1 MB by default) held: the other 4 MB were never read.
    assert streams and all(s.produced < DEFAULT_MAX_BYTES + READ_SLACK for s in streams), \
        [s.produced for s in streams]


# --- time ------------------------------------------------------------------------------------------
# Each server below does finish its answer, a few seconds later; every byte arrives well within any
# per-read timeout. Only a deadline on the whole request makes us hang up before it is done, which
# the server observes: its answer never completes (or, for slow resolution, it is never called).
DRIP = 0.05


def test_slow_headers_hit_the_total_deadline(server):
    slow = server(lambda conn, s: s.drip(conn, http_response(200, b"{}", {"Content-Type": "application/json"}),
                                         delay=DRIP))
    with pytest.raises(TransportError) as excinfo:
        SafeHttpClient(allow_insecure=True, timeout=0.5).request("GET", slow.url + "/")
    assert excinfo.value.code == "timeout"
    slow.wait_idle()
    assert slow.completed == 0, "we waited for the whole slow answer"


def test_slow_dpop_body_hits_the_total_deadline(server):
    body = b'{"error": "invalid_request"}' + b" " * 40

    def script(conn, s):
        s.send(conn, http_response(400, b"", {"Content-Type": "application/json",
                                              "Content-Length": str(len(body))}))
        s.drip(conn, body, delay=DRIP)

    slow = server(script)
    with pytest.raises(TransportError) as excinfo:
        SafeHttpClient(allow_insecure=True, timeout=0.5).request(
            "POST", slow.url + "/oauth/token", data={"grant_type": "refresh_token"}, auth=dpop())
    assert excinfo.value.code == "timeout"
    slow.wait_idle()
    assert slow.completed == 0, "we waited for the whole slow answer"


def test_slow_name_resolution_hits_the_total_deadline(server):
    fast = server(lambda conn, s: s.send(conn, http_response(200, b"{}")))

    def slow_resolve(host, port):
        time.sleep(2.5)
        return ["127.0.0.1"]

    http = SafeHttpClient(allow_insecure=True, timeout=0.5, resolve_host=slow_resolve)
    with pytest.raises(TransportError) as excinfo:
        http.request("GET", f"http://slow.example.com:{fast.port}/")
    assert excinfo.value.code == "timeout"
    assert fast.accepted == 0, "we waited for the slow resolution and connected anyway"


def test_a_server_that_never_answers_hits_the_deadline(server):
    held = server(lambda conn, s: s.stopping.wait(10))
    with pytest.raises(TransportError) as excinfo:
        SafeHttpClient(allow_insecure=True, timeout=0.5).request("GET", held.url + "/")
    assert excinfo.value.code == "timeout"


def test_a_dripped_tls_handshake_hits_the_deadline(tmp_path):
    # A real TLS server whose handshake reaches us a byte every 20 ms (~15 s for its certificate):
    # one timeout per socket read would never fire. The handshake is one bounded wait.
    ca = make_ca(tmp_path, ["slow-tls.example.com"])
    site = HttpsSite(ca)
    site.serve("slow-tls.example.com", "/", 200, "{}")
    relay = DripRelay(site.port, delay=0.02)
    http = SafeHttpClient(resolve_host=public_dns, network_backend=LoopbackInternet(relay.port),
                          ssl_context=ca.client_context(), timeout=0.5)
    try:
        with pytest.raises(TransportError) as excinfo:
            http.request("GET", "https://slow-tls.example.com/")
        assert excinfo.value.code == "timeout"
        assert site.requests == []
    finally:
        relay.stop()
        site.stop()


def test_slow_well_known_handle_lookup_gives_up_early():
    def drip():
        for byte in (ALICE + "\n").encode():
            time.sleep(0.15)
            yield bytes([byte])

    def handler(request):
        if request.url.path == "/.well-known/atproto-did":
            return httpx.Response(200, content=drip())  # ~5 s: inside the general 10 s deadline
        return FakeNetwork().handle(request)

    resolver = IdentityResolver(http=SafeHttpClient(transport=httpx.MockTransport(handler)), plc_url=PLC,
                                dns_txt=lambda name: [])
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver.resolve_handle("alice.example.com")
    assert excinfo.value.code == "handle_not_found"


# --- cookies ---------------------------------------------------------------------------------------
def test_cookies_are_never_kept_or_sent():
    seen = []

    def handler(request):
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "sid=abc; Path=/"}, json={})

    http = SafeHttpClient(transport=httpx.MockTransport(handler))
    http.request("GET", "https://pds.example.com/a")
    http.request("GET", "https://pds.example.com/b")
    assert seen == [None, None]
