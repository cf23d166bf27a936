"""Handle resolution as it runs in production: dnspython asking a real DNS server (dnsmasq on
loopback) for `_atproto.<handle>` TXT records, and `https://<handle>/.well-known/atproto-did` over
real TLS to a host of ours, through the SSRF-safe client with every production guard on.

The handle spec: when both methods answer, the DNS TXT answer is preferred; either alone suffices;
more than one `did=` record is a failure. The handle is only trusted when the DID document lists it.
"""

import json

import pytest

from bluesky.atproto import IdentityResolutionError, IdentityResolver, OAuthClient, SafeHttpClient
from bluesky.atproto.oauth import ClientConfig
from tests.bluesky.atproto.fake_network import auth_server_metadata, did_document
from tests.bluesky.atproto.public_hosts import Dnsmasq, HttpsSite, LoopbackInternet, make_ca, public_dns

pytestmark = pytest.mark.services

ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
BOB = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
PLC = "https://plc.example.com"
PDS = "https://pds.example.com"
ISSUER = "https://auth.example.com"

DNS_ONLY = "dns-only.example.com"
DISAGREE = "disagree.example.com"        # DNS says ALICE, the well-known file says BOB
WEB_ONLY = "web-only.example.com"
TWO_RECORDS = "two-records.example.com"
NOWHERE = "nowhere.example.com"
UNCERTIFIED = "uncertified.example.com"  # served, but our certificate does not name it
CERTIFIED = [DNS_ONLY, DISAGREE, WEB_ONLY, TWO_RECORDS, NOWHERE, "plc.example.com", "pds.example.com",
             "auth.example.com"]


@pytest.fixture(scope="module")
def internet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("internet")
    dns = Dnsmasq([(f"_atproto.{DNS_ONLY}", f"did={ALICE}"), (f"_atproto.{DISAGREE}", f"did={ALICE}"),
                   (f"_atproto.{TWO_RECORDS}", f"did={ALICE}"), (f"_atproto.{TWO_RECORDS}", f"did={BOB}")],
                  local_domain="example.com", log_path=folder / "dnsmasq.log")
    ca = make_ca(folder, CERTIFIED)
    site = HttpsSite(ca)
    for handle, did in ((DISAGREE, BOB), (WEB_ONLY, BOB), (UNCERTIFIED, BOB)):
        site.serve(handle, "/.well-known/atproto-did", 200, did + "\n", content_type="text/plain")
    alice = did_document(ALICE, DNS_ONLY, PDS)
    alice["alsoKnownAs"].append(f"at://{DISAGREE}")
    bob = did_document(BOB, WEB_ONLY, PDS)
    bob["alsoKnownAs"] += [f"at://{DISAGREE}", f"at://{UNCERTIFIED}"]
    site.serve("plc.example.com", f"/{ALICE}", 200, json.dumps(alice))
    site.serve("plc.example.com", f"/{BOB}", 200, json.dumps(bob))
    site.serve("pds.example.com", "/.well-known/oauth-protected-resource", 200,
               json.dumps({"resource": PDS, "authorization_servers": [ISSUER]}))
    site.serve("auth.example.com", "/.well-known/oauth-authorization-server", 200,
               json.dumps(auth_server_metadata(ISSUER)))
    site.serve("auth.example.com", "/oauth/par", 201,
               json.dumps({"request_uri": "urn:ietf:params:oauth:request_uri:req-1", "expires_in": 60}),
               method="POST")
    try:
        yield dns, ca, site
    finally:
        site.stop()
        dns.stop()


def resolver_on(internet, *, dns_port=None):
    dns, ca, site = internet
    http = SafeHttpClient(resolve_host=public_dns, network_backend=LoopbackInternet(site.port),
                          ssl_context=ca.client_context())
    assert not http.allow_insecure  # every production guard is on
    return IdentityResolver(http=http, plc_url=PLC, dns_nameservers=["127.0.0.1"], dns_port=dns_port or dns.port)


def test_a_handle_in_dns_only_resolves(internet):
    identity = resolver_on(internet).resolve(DNS_ONLY)
    assert (identity.did, identity.handle, identity.handle_verified, identity.pds_url) == (ALICE, DNS_ONLY, True, PDS)


def test_a_handle_on_the_well_known_file_only_resolves_over_real_tls(internet):
    _, _, site = internet
    identity = resolver_on(internet).resolve(WEB_ONLY)
    assert (identity.did, identity.handle_verified) == (BOB, True)
    assert (WEB_ONLY, "GET", "/.well-known/atproto-did") in site.requests


def test_when_the_two_answers_disagree_dns_wins(internet):
    assert resolver_on(internet).resolve(DISAGREE).did == ALICE


def test_two_did_records_are_a_failure(internet):
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver_on(internet).resolve(TWO_RECORDS)
    assert excinfo.value.code == "ambiguous_handle"


def test_a_handle_in_neither_is_not_found(internet):
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver_on(internet).resolve(NOWHERE)
    assert excinfo.value.code == "handle_not_found"


def test_a_well_known_host_with_a_certificate_for_another_name_is_not_believed(internet):
    with pytest.raises(IdentityResolutionError) as excinfo:
        resolver_on(internet).resolve(UNCERTIFIED)
    assert excinfo.value.code == "handle_not_found"


def test_without_its_dns_server_a_handle_falls_back_to_the_well_known_file(internet):
    # A port nobody listens on: DNS fails, the well-known file still answers (BOB, not ALICE).
    assert resolver_on(internet, dns_port=9).resolve(DISAGREE).did == BOB


@pytest.mark.parametrize("handle, did", [(DISAGREE, ALICE), (DNS_ONLY, ALICE), (WEB_ONLY, BOB)])
def test_signing_in_starts_for_the_account_dns_names(internet, handle, did):
    resolver = resolver_on(internet)
    config = ClientConfig(client_id="https://app.example.org/client-metadata.json",
                          redirect_uri="https://app.example.org/callback", scope="atproto")
    pending = OAuthClient(config, http=resolver.http, resolver=resolver).start_authorization(handle)
    assert (pending.expected_did, pending.expected_handle, pending.issuer) == (did, handle, ISSUER)
    assert pending.authorization_url.startswith(f"{ISSUER}/oauth/authorize?")
