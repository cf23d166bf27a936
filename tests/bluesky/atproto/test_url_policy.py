"""Which outbound URLs the SSRF guard accepts: default ports only, public DNS names only, and no
IPv6 form that tunnels to a private IPv4 address (6to4, Teredo, NAT64, mapped/compatible, ISATAP)."""

import ipaddress

import httpx
import pytest

from bluesky.atproto import SafeHttpClient, UnsafeURLError
from bluesky.atproto.http import is_public_address


def answering() -> tuple[SafeHttpClient, list[str]]:
    seen: list[str] = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    return handler, seen


@pytest.mark.parametrize("url", [
    "https://pds.example.com:8443/xrpc/x",
    "https://pds.example.com:80/",
    "https://pds.example.com:1/",
    "https://[2606:4700::1111]:8443/",
])
def test_non_default_ports_are_refused(url):
    handler, seen = answering()
    with pytest.raises(UnsafeURLError) as excinfo:
        SafeHttpClient(transport=httpx.MockTransport(handler)).request("GET", url)
    assert excinfo.value.code == "port"
    assert seen == []


def test_the_default_port_spelled_out_is_fine():
    handler, seen = answering()
    SafeHttpClient(transport=httpx.MockTransport(handler)).request("GET", "https://pds.example.com:443/x")
    assert len(seen) == 1


@pytest.mark.parametrize("host", [
    "intranet", "pds", "localhost", "localhost.", "foo.localhost", "printer.local", "metadata.google.internal",
    "1.0.0.127.in-addr.arpa", "router.home.arpa", "x.invalid", "alice.test", "site.example", "x.onion", "x.alt",
    "nas.lan", "files.corp", "wiki.intranet", "box.home", "db.private", "PRINTER.LOCAL",
])
def test_single_label_and_internal_names_are_refused(host):
    handler, seen = answering()
    with pytest.raises(UnsafeURLError) as excinfo:
        SafeHttpClient(transport=httpx.MockTransport(handler)).request("GET", f"https://{host}/x")
    assert excinfo.value.code == "internal_name"
    assert seen == []


@pytest.mark.parametrize("url", ["https://pds.test:8443/", "http://localhost:2583/", "https://intranet/"])
def test_a_local_test_network_may_use_them(url):
    handler, seen = answering()
    SafeHttpClient(allow_insecure=True, transport=httpx.MockTransport(handler)).request("GET", url)
    assert len(seen) == 1


TUNNELLED_PRIVATE = [
    "2002:7f00:1::",               # 6to4 of 127.0.0.1
    "2002:a00:1::1",               # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::",            # 6to4 of 169.254.169.254 (cloud metadata)
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (obfuscated)
    "2001:0:a00:1::",              # Teredo, server 10.0.0.1
    "64:ff9b::a9fe:a9fe",          # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1",             # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",            # local-use NAT64 (RFC 8215)
    "64:ff9b:1:ffff::8.8.8.8",     # local-use NAT64, even with a public IPv4 inside
    "::ffff:127.0.0.1",            # IPv4-mapped
    "::ffff:0:7f00:1",             # IPv4-translated (SIIT)
    "::7f00:1",                    # IPv4-compatible (deprecated)
    "::a00:1",
    "2a00:1450::5efe:a00:1",       # ISATAP interface id around 10.0.0.1
    "2a00:1450::200:5efe:7f00:1",  # ISATAP (universal bit) around 127.0.0.1
    "2001:db8::1",                 # documentation
    "3fff::1",                     # documentation (RFC 9637)
    "100::1",                      # discard-only
    "fec0::1",                     # site-local (deprecated)
    "5f00::1",                     # SRv6 SIDs
]


@pytest.mark.parametrize("address", TUNNELLED_PRIVATE)
def test_tunnelled_private_addresses_are_refused(address):
    assert not is_public_address(ipaddress.ip_address(address))
    handler, seen = answering()
    http = SafeHttpClient(transport=httpx.MockTransport(handler))
    with pytest.raises(UnsafeURLError):
        http.request("GET", f"https://[{address}]/")
    assert seen == []


@pytest.mark.parametrize("address", ["192.0.0.8", "198.18.0.1", "192.88.99.1", "240.0.0.1", "255.255.255.255",
                                     "192.0.2.1", "203.0.113.7", "0.1.2.3", "100.127.255.254"])
def test_special_purpose_ipv4_is_refused(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001:80b::200e",
                                     "2002:5db8:d822::1", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert is_public_address(ipaddress.ip_address(address))
