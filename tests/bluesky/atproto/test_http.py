"""The SSRF-safe client: what it refuses, and that it checks the address it really connects to."""

import time

import httpcore
import httpx
import pytest

from bluesky.atproto import SafeHttpClient, TransportError, UnsafeURLError
from bluesky.atproto.http import is_public_address, parse_ip_literal


class RecordingBackend(httpcore.NetworkBackend):
    """Stands in for the socket layer: records where we would connect, never opens a socket."""

    def __init__(self):
        self.connected_to = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected_to.append(host)
        raise httpcore.ConnectError("no network in tests")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://017700000001/",
        "https://0x7f000001/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fe80::1]/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://[64:ff9b::7f00:1]/",
        "https://localhost/",
        "https://foo.localhost/",
    ],
)
def test_private_and_loopback_literals_are_refused(url):
    backend = RecordingBackend()
    http = SafeHttpClient(network_backend=backend, resolve_host=lambda h, p: pytest.fail("no DNS for literals"))
    with pytest.raises(UnsafeURLError):
        http.request("GET", url)
    assert backend.connected_to == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "https://user:pw@example.com/",
        "javascript:alert(1)",
        "https:///nohost",
    ],
)
def test_bad_schemes_and_shapes_are_refused(url):
    with pytest.raises(UnsafeURLError):
        SafeHttpClient(network_backend=RecordingBackend()).request("GET", url)


@pytest.mark.parametrize(
    "answers", [["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"], ["::1"], ["fd00::1"], ["93.184.216.34", "10.0.0.1"]]
)
def test_names_resolving_to_private_addresses_are_refused(answers):
    backend = RecordingBackend()
    http = SafeHttpClient(network_backend=backend, resolve_host=lambda host, port: answers)
    with pytest.raises(UnsafeURLError):
        http.request("GET", "https://innocent.example.com/.well-known/did.json")
    assert backend.connected_to == []


def test_dns_rebinding_connects_only_to_the_checked_address():
    # The attacker's DNS answers a public address first and a private one afterwards: we resolve
    # once, check that answer, and connect to exactly that address.
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    lookups = []

    def rebinding(host, port):
        lookups.append(host)
        return next(answers)

    backend = RecordingBackend()
    http = SafeHttpClient(network_backend=backend, resolve_host=rebinding)
    with pytest.raises(TransportError):
        http.request("GET", "https://rebind.example.com/")
    assert backend.connected_to == ["93.184.216.34"]
    assert lookups == ["rebind.example.com"]


def test_insecure_mode_allows_http_loopback_for_a_local_network():
    backend = RecordingBackend()
    http = SafeHttpClient(allow_insecure=True, network_backend=backend)
    with pytest.raises(TransportError):
        http.request("GET", "http://127.0.0.1:9/")
    assert backend.connected_to == ["127.0.0.1"]


def test_literal_parsing_and_public_check():
    assert str(parse_ip_literal("0x7f.1")) == "127.0.0.1"
    assert str(parse_ip_literal("2130706433")) == "127.0.0.1"
    assert parse_ip_literal("example.com") is None
    assert is_public_address(parse_ip_literal("8.8.8.8"))
    assert not is_public_address(parse_ip_literal("::ffff:10.0.0.1"))


def mock(handler):
    return SafeHttpClient(transport=httpx.MockTransport(handler), max_bytes=1000, timeout=1.0)


def test_redirects_are_not_followed():
    http = mock(lambda r: httpx.Response(302, headers={"Location": "https://127.0.0.1/"}))
    with pytest.raises(TransportError) as excinfo:
        http.request("GET", "https://pds.example.com/")
    assert excinfo.value.code == "redirect"


def test_oversized_responses_are_cut_off():
    http = mock(lambda r: httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(TransportError) as excinfo:
        http.request("GET", "https://pds.example.com/")
    assert excinfo.value.code == "too_large"


def test_oversized_stream_without_length_is_cut_off():
    def endless():
        while True:
            yield b"y" * 256

    http = mock(lambda r: httpx.Response(200, content=endless()))
    with pytest.raises(TransportError) as excinfo:
        http.request("GET", "https://pds.example.com/")
    assert excinfo.value.code == "too_large"


def test_slow_drip_hits_the_total_deadline():
    def drip():
        for _ in range(50):
            time.sleep(0.05)
            yield b"."

    http = SafeHttpClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=drip())), timeout=0.5, max_bytes=10_000
    )
    with pytest.raises(TransportError) as excinfo:
        http.request("GET", "https://pds.example.com/")
    assert excinfo.value.code == "timeout"


def test_timeouts_become_transport_errors():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransportError) as excinfo:
        mock(timeout).request("GET", "https://pds.example.com/")
    assert excinfo.value.code == "timeout"


def test_json_content_type_is_checked():
    http = mock(lambda r: httpx.Response(200, text="<html>", headers={"content-type": "text/html"}))
    with pytest.raises(TransportError) as excinfo:
        http.get_json("https://pds.example.com/.well-known/oauth-protected-resource")
    assert excinfo.value.code == "content_type"
