"""A TLS server on 127.0.0.1 that the test PDS reaches as https://app.peer.internal:<port>.

It serves JSON documents the tests register (client metadata, JWKS) and can reverse-proxy every
other path to a backend (a Django live_server), so the OAuth callback lands in our app.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.peer.runtime import TlsFiles

HOSTNAME = "app.peer.internal"
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded by a proxy.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        # Quiet: request lines may carry codes and state in their query strings.
        pass

    def _handle(self) -> None:
        host: AppHost = self.server.app_host
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host._record(self.command, self.path)
        doc = host._documents.get(path)
        if doc is not None and self.command in ("GET", "HEAD"):
            payload = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(payload)
            return
        backend = host._backend
        if backend is None:
            self.send_error(404)
            return
        self._proxy(backend, body)

    def _proxy(self, backend: urllib.parse.SplitResult, body: bytes) -> None:
        conn_cls = http.client.HTTPSConnection if backend.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(backend.hostname, backend.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        # The app sees the public origin (Host) and learns that the client spoke TLS to us.
        headers["X-Forwarded-Proto"] = "https"
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["Connection"] = "close"
        target = backend.path.rstrip("/") + self.path
        try:
            conn.request(self.command, target, body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    app_host: AppHost

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so one slow or broken
        # client cannot stall the accept loop.
        request.settimeout(30)
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # Clients that hang up mid-request are normal here (a test that checks an untrusted CA).
        pass


class AppHost:
    """`https://app.peer.internal:<port>` on 127.0.0.1, certified by the peer's test CA.

    serve_json(path, doc) registers a document; proxy_to(url) forwards every other path.
    `.url` is the origin the PDS uses; `.local_url` is the same server by IP, for Python clients
    that do not resolve *.peer.internal (its certificate names 127.0.0.1 too).
    """

    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls
        self._documents: dict[str, object] = {}
        self._backend: urllib.parse.SplitResult | None = None
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(tls.cert_path, tls.key_path)
        self._server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True, do_handshake_on_connect=False)
        self._server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        self._server.server_bind()
        self._server.server_activate()
        self._server.app_host = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"app-host-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://{HOSTNAME}:{self.port}"

    @property
    def host(self) -> str:
        return f"{HOSTNAME}:{self.port}"

    @property
    def local_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_cert_path(self) -> str:
        return self.tls.ca_cert_path

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def serve_json(self, path: str, doc: object) -> str:
        """Serves `doc` as JSON at `path` (GET); returns its full https URL."""
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._documents[urllib.parse.urlsplit(path).path] = doc
        return self.url_for(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self._documents.pop(path, None)

    def proxy_to(self, base_url: str | None) -> None:
        """Forwards every path without a document to base_url (e.g. live_server.url); None stops it."""
        self._backend = urllib.parse.urlsplit(base_url) if base_url else None

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, urllib.parse.urlsplit(path).path))

    def fetched(self, path: str) -> int:
        """How many GETs of `path` this host answered (the PDS fetching client metadata, say)."""
        with self._lock:
            return sum(1 for m, p in self.requests if m == "GET" and p == path)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA (for Python clients of this host)."""
        return ssl.create_default_context(cafile=self.tls.ca_cert_path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
