"""Stand-ins for public internet hosts, on loopback: an https site certified by a test CA of our own,
reached through the SSRF-safe client exactly as in production (no allow_insecure, port 443, a
public address checked by the guard) except that the socket to that public address is opened to
127.0.0.1:<our port> instead, and our CA is the one trusted.

Also a real DNS server (Debian's dnsmasq) serving TXT records on 127.0.0.1:<free port>.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore

# Where "the internet" is for these tests: a public address the guard accepts. Nothing is ever
# sent there; LoopbackInternet connects to our site instead.
PUBLIC_ADDRESS = "93.184.216.34"


@dataclass
class TestCa:
    ca_pem: str
    cert_path: str
    key_path: str

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem)
        return context

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_ca(directory: Path, names: list[str]) -> TestCa:
    """A throwaway CA and one server certificate naming `names`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Elonara test internet CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "site.pem", directory / "site.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return TestCa(ca_cert.public_bytes(serialization.Encoding.PEM).decode(), str(cert_path), str(key_path))


@dataclass
class Route:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class HttpsSite:
    """Virtual hosts on one TLS server on 127.0.0.1: routes[(host, method, path)] -> Route."""

    ca: TestCa
    routes: dict[tuple[str, str, str], Route] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                path = self.path.split("?", 1)[0]
                site.requests.append((host, self.command, path))
                route = site.routes.get((host, self.command, path)) or Route(404, b"not found", "text/plain")
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            do_GET = do_POST = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request, client_address):
                request.settimeout(10)
                try:
                    request.do_handshake()
                except (OSError, ssl.SSLError):
                    return
                super().finish_request(request, client_address)

            def handle_error(self, request, client_address):
                pass  # clients that refuse our certificate hang up mid-handshake: expected here

        self._server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.socket = self.ca.server_context().wrap_socket(self._server.socket, server_side=True,
                                                                   do_handshake_on_connect=False)
        self._server.server_bind()
        self._server.server_activate()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, url_host: str, path: str, status: int, body: bytes | str, *, method: str = "GET",
              content_type: str = "application/json") -> None:
        self.routes[(url_host, method, path)] = Route(status, body.encode() if isinstance(body, str) else body,
                                                      content_type)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LoopbackInternet(httpcore.NetworkBackend):
    """The production socket layer, except that `PUBLIC_ADDRESS:443` is our site on loopback."""

    def __init__(self, site_port: int) -> None:
        self._inner = httpcore.SyncBackend()  # the production socket layer
        self._site_port = site_port
        self.connections: list[tuple[str, int]] = []

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        self.connections.append((host, port))
        if (host, port) != (PUBLIC_ADDRESS, 443):
            raise httpcore.ConnectError("only the stand-in public host exists in this test")
        return self._inner.connect_tcp("127.0.0.1", self._site_port, timeout, local_address, socket_options)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def public_dns(host: str, port: int) -> list[str]:
    """Every name is on the one stand-in public host (A records, not the TXT records under test)."""
    return [PUBLIC_ADDRESS]


# --- dnsmasq -----------------------------------------------------------------------------------------
def dnsmasq_binary() -> str | None:
    return shutil.which("dnsmasq") or next((p for p in ("/usr/sbin/dnsmasq",) if os.path.exists(p)), None)


def _free_port() -> int:
    # A port free for both TCP and UDP right now (dnsmasq binds both).
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class Dnsmasq:
    """dnsmasq answering only from the given TXT records on 127.0.0.1:<port>: authoritative-style
    for `local_domain` (NXDOMAIN for anything else under it), never forwarding anywhere."""

    def __init__(self, txt_records: list[tuple[str, str]], *, local_domain: str, log_path: Path) -> None:
        binary = dnsmasq_binary()
        if binary is None:
            raise RuntimeError("dnsmasq is not installed (scripts/system-packages.sh installs dnsmasq-base)")
        self.port = _free_port()
        args = [binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={self.port}",
                f"--local=/{local_domain}/", "--pid-file=", "--log-facility=-"]
        if os.geteuid() == 0:
            args += ["--user=nobody", "--group=nogroup"]  # as root it drops to these; as a user it stays
        args += [f"--txt-record={name},{value}" for name, value in txt_records]
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(local_domain)

    def _wait_ready(self, local_domain: str) -> None:
        import dns.exception
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], self.port
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited with {self.process.returncode}")
            try:
                resolver.resolve(f"ready-check.{local_domain}", "TXT", lifetime=0.5)
            except dns.resolver.NXDOMAIN:
                return  # it answers
            except dns.exception.DNSException:
                time.sleep(0.05)
        raise RuntimeError("dnsmasq did not answer")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()

