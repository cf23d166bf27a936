"""The one HTTP client for every URL that came from outside (handles, DID documents, metadata, PDSes).

Guards, all on by default (`allow_insecure=True` lifts the first three, for a local test network):
- https only, on the default port only;
- public DNS names only: no single-label names and no names under special-use or internal
  top-level domains (`localhost`, `.local`, `.internal`, `.arpa`, `.test`, ...);
- public unicast addresses only, checked at connect time on the address actually connected to:
  the name is resolved once, every answer is checked, and the socket is opened to a checked
  address while TLS still verifies the original host name. A second resolution (DNS rebinding)
  never happens. Literal IPs in every spelling (`127.1`, `2130706433`, `0x7f.1`, `[::ffff:7f00:1]`)
  are parsed the way the C library would, and IPv6 forms that carry an IPv4 address (mapped,
  6to4, Teredo, NAT64, ISATAP) are judged by the address they carry. Our own tables decide what
  is public: the standard library's `is_global` differs between Python versions;
- no redirects (a 3xx is an error); no cookies;
- one total deadline per call (name resolution, connect, TLS handshake, headers, body and any
  DPoP nonce retry): every socket wait is cut to what is left of it, so a server that drips its
  answer a byte at a time is cut off when the deadline passes, not one read timeout per byte;
- a size cap enforced while streaming on every path, on the wire size and on the decoded size
  (a compressed body is decoded in bounded steps, so a gzip bomb never expands in memory);
- a JSON content-type check where JSON is expected.

`httpx.Client` is not used: it would parse and store every `Set-Cookie` (about 8% of a flow's CPU,
for cookies we never send), and with a DPoP auth flow it reads the whole response body inside
`send()` before any cap applies. The auth flow (DPoP's one nonce retry) is driven here instead,
over bodies read under the cap. One pooled transport serves every call.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast
from urllib.parse import urlsplit

import httpcore
import httpx

from bluesky.atproto.errors import TransportError, UnsafeURLError

ResolveHost = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_USER_AGENT = "Elonara/1.0 (AT Protocol OAuth client)"
# Only codings we can decode in bounded steps are offered; anything else in an answer is refused.
ACCEPT_ENCODING = "gzip, deflate"
# An auth flow may retry once (DPoP nonce); a flow that wants more is refused, not followed.
MAX_ROUND_TRIPS = 2

# IANA special-purpose registries (RFC 6890 and successors), IPv4: nothing here is reachable as a
# public server.
_V4_NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
# IPv6 servers live in global unicast 2000::/3, minus these special blocks.
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_NOT_PUBLIC = tuple(ipaddress.IPv6Network(n) for n in (
    "2001::/23",       # IETF protocol assignments, Teredo (2001::/32) included
    "2001:db8::/32",   # documentation
    "3fff::/20",       # documentation (RFC 9637)
))
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local use, any layout
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_ISATAP_MARKERS = (0x00005EFE, 0x02005EFE)
# Names that never lead to a public server: special-use (RFC 6761, 6762 appendix G, 7686, 9476)
# and the internal top-level names in common use.
_INTERNAL_TLDS = frozenset({
    "localhost", "local", "internal", "arpa", "invalid", "test", "example", "onion", "alt",
    "home", "lan", "corp", "intranet", "private", "localdomain",
})


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes if it is an IP literal in any spelling the resolver accepts."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" in host:
        return None
    try:
        # inet_aton accepts the legacy forms: 127.1, 2130706433, 0x7f.1, 017700000001.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to, for the forms that tunnel or translate one."""
    value = int(ip)
    if ip in _V4_MAPPED or ip in _V4_TRANSLATED or ip in _V4_COMPATIBLE or ip in _NAT64:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_MARKERS:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in _V4_NOT_PUBLIC)
    if ip in _NAT64_LOCAL:
        return False
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not is_public_address(embedded):
        return False
    if ip in _V4_MAPPED or ip in _V4_TRANSLATED or ip in _V4_COMPATIBLE or ip in _NAT64:
        return True  # delivered to the (public) IPv4 address it carries
    return ip in _V6_GLOBAL_UNICAST and not any(ip in net for net in _V6_NOT_PUBLIC)


def is_internal_name(host: str) -> bool:
    """Single-label names (completed by search domains) and special-use or internal TLDs."""
    name = host.lower().rstrip(".")
    return "." not in name or name.rsplit(".", 1)[-1] in _INTERNAL_TLDS


# --- the deadline -----------------------------------------------------------------------------------
# Set for the duration of one SafeHttpClient call. The sync connection pool does all its socket work
# in the calling thread, so the socket layer below can read it.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("atproto_http_deadline", default=None)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to what is left of the current call's deadline; raises `expired` once it passed."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


def _run_bounded(fn: Callable[[], Any], what: str) -> Any:
    """Run a blocking call that takes no timeout (getaddrinfo) within the deadline, in its own thread.

    A thread per call, not a shared pool: one slow name server never delays another lookup. A thread
    left behind ends when the system resolver gives up."""
    deadline = _deadline.get()
    if deadline is None:
        return fn()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="safe-http-resolve", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        raise httpcore.ConnectTimeout(f"{what} took too long")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _DeadlineStream(httpcore.NetworkStream):
    """Cuts every wait of the stream below to what is left of the call's deadline. (A TLS handshake
    is one wait: CPython bounds the whole handshake by the socket timeout, not each packet.)"""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedNetworkBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, and connects only to a checked one, within the deadline."""

    def __init__(self, *, resolve_host: ResolveHost, allow_private: bool,
                 inner: httpcore.NetworkBackend | None = None) -> None:
        self._resolve = resolve_host
        self._allow_private = allow_private
        self._inner = inner or httpcore.SyncBackend()

    def addresses_for(self, host: str, port: int) -> list[str]:
        literal = parse_ip_literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            try:
                answers = _run_bounded(lambda: self._resolve(host, port), f"resolving {host}")
                candidates = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
            except (OSError, ValueError) as exc:
                raise httpcore.ConnectError(f"could not resolve {host}") from exc
            if not candidates:
                raise httpcore.ConnectError(f"could not resolve {host}")
        if not self._allow_private:
            # One non-public answer taints the whole answer: a rebinding attacker mixes them.
            if any(not is_public_address(ip) for ip in candidates):
                raise UnsafeURLError("That address points to a private or reserved network.",
                                     code="private_address", host=host)
        return [str(ip) for ip in candidates]

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self.addresses_for(host, port):
            try:
                stream = self._inner.connect_tcp(address, port, timeout=_left(timeout, httpcore.ConnectTimeout),
                                                 local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream)
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:  # pragma: no cover
        raise UnsafeURLError("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        self._inner.sleep(seconds)


class _PoolStream(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            # A response from the sync pool has a sync stream.
            yield from cast(Iterable[bytes], self._response.stream)
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx.ReadError(str(exc)) from exc

    def close(self) -> None:
        self._response.close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose sockets go through the guarded backend.

    `ssl_context` is for tests that run an https host of their own (a test CA); production uses the
    default context (system/certifi roots, hostname checks on)."""

    def __init__(self, *, resolve_host: ResolveHost, allow_private: bool,
                 network_backend: httpcore.NetworkBackend | None = None, max_connections: int | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.backend = _GuardedNetworkBackend(resolve_host=resolve_host, allow_private=allow_private,
                                              inner=network_backend)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            # No pool-wide connection limit by default: with one, fifty requests held open by slow
            # servers would make every other member's request queue for a free slot. The calling
            # threads (each request needs one) already bound how many connections exist.
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=30.0,
            network_backend=self.backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except httpcore.ConnectTimeout as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx.TransportError(str(exc), request=request) from exc
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_PoolStream(response), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


class _BoundedDecoder:
    """Undoes one content-coding without ever producing more than the caller has room for, so a
    compression bomb is refused after at most `limit` decoded bytes, not after expanding in memory."""

    def __init__(self, coding: str, host: str) -> None:
        self._coding = coding.strip().lower()
        if self._coding in ("", "identity"):
            self._zlib = None
        elif self._coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            # br, zstd, stacked codings: never offered, so never accepted.
            raise TransportError("The server answered in an encoding that was not asked for.",
                                 code="content_encoding", retryable=False, host=host)
        self._started = False
        self._host = host

    def decode(self, data: bytes, room: int) -> bytes:
        if self._zlib is None:
            return data
        try:
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error:
                if self._coding != "deflate" or self._started:
                    raise
                # "deflate" is meant to be zlib-wrapped; some servers send it raw.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._zlib.decompress(data, room)
        except zlib.error as exc:
            raise TransportError("The server's answer could not be decoded.", code="content_encoding",
                                 retryable=False, host=self._host) from exc
        self._started = True
        return out


class SafeHttpClient:
    """Pooled, SSRF-guarded HTTP for URLs from outside. Thread-safe; share one per process.

    `transport`, `resolve_host`, `network_backend` and `ssl_context` are for tests (faults, a test
    CA, a loopback host standing in for a public name)."""

    def __init__(self, *, allow_insecure: bool = False, transport: httpx.BaseTransport | None = None,
                 resolve_host: ResolveHost | None = None, network_backend: httpcore.NetworkBackend | None = None,
                 timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 user_agent: str = DEFAULT_USER_AGENT, ssl_context: ssl.SSLContext | None = None) -> None:
        self.allow_insecure = allow_insecure
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.request_count = 0  # every request put on the wire, retries included (benchmarks read it)
        self.request_hooks: list[Callable[[httpx.Request], None]] = []
        self._transport = transport or GuardedTransport(
            resolve_host=resolve_host or _system_resolve, allow_private=allow_insecure,
            network_backend=network_backend, ssl_context=ssl_context,
        )
        self._headers = {"User-Agent": user_agent, "Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING}

    def add_request_hook(self, hook: Callable[[httpx.Request], None]) -> None:
        """Observe every request put on the wire (benchmarks and tests count them)."""
        self.request_hooks.append(hook)

    def check_url(self, url: str) -> str:
        """Refuse what must never be fetched, before any connection: scheme, port, credentials, odd hosts."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeURLError("That address is not a valid URL.", code="invalid_url") from exc
        allowed = ("https", "http") if self.allow_insecure else ("https",)
        if parts.scheme not in allowed:
            raise UnsafeURLError("Only https addresses can be used.", code="scheme", scheme=parts.scheme)
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise UnsafeURLError("That address is not a valid URL.", code="invalid_url")
        if port is not None and not 0 < port < 65536:
            raise UnsafeURLError("That address is not a valid URL.", code="invalid_url")
        if self.allow_insecure:
            return url
        if port is not None and port != 443:
            # Other ports reach services that were never meant to be public (admin ports, caches).
            raise UnsafeURLError("Only the standard https port can be used.", code="port")
        literal = parse_ip_literal(parts.hostname)
        if literal is not None:
            if not is_public_address(literal):
                raise UnsafeURLError("That address points to a private or reserved network.",
                                     code="private_address")
        elif is_internal_name(parts.hostname):
            raise UnsafeURLError("That address names a local or internal network.", code="internal_name")
        return url

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                json_body: Any = None, content: bytes | None = None, auth: httpx.Auth | None = None,
                expect_json: bool = False,
                max_bytes: int | None = None, timeout: float | None = None) -> httpx.Response:
        """Send one request (plus the one retry its `auth` flow may make) and return the read response.

        `timeout` is the total for everything, retry included. Raises UnsafeURLError or
        TransportError; any HTTP status is returned, except redirects.
        """
        self.check_url(url)
        limit = max_bytes or self.max_bytes
        deadline = time.monotonic() + (timeout or self.timeout)
        request = httpx.Request(method, url, params=params, headers={**self._headers, **(headers or {})},
                                data=data, json=json_body, content=content)
        token = _deadline.set(deadline)
        try:
            if auth is None:
                return self._finish(self._round_trip(request, limit, deadline), expect_json)
            # The auth flow is driven here, not by httpx: it sees responses read under our cap.
            flow = auth.sync_auth_flow(request)
            try:
                request = next(flow)
                for _ in range(MAX_ROUND_TRIPS):
                    response = self._round_trip(request, limit, deadline)
                    try:
                        request = flow.send(response)
                    except StopIteration:
                        return self._finish(response, expect_json)
                    self.check_url(str(request.url))
            finally:
                flow.close()
            raise TransportError("The server kept asking for another attempt.", code="retry_loop",
                                 retryable=False, host=request.url.host)
        finally:
            _deadline.reset(token)

    def _round_trip(self, request: httpx.Request, limit: int, deadline: float) -> httpx.Response:
        host = request.url.host
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError("The server took too long to answer.", code="timeout", host=host)
        request.extensions["timeout"] = {"connect": left, "read": left, "write": left, "pool": left}
        self.request_count += 1
        for hook in self.request_hooks:
            hook(request)
        try:
            response = self._transport.handle_request(request)
        except UnsafeURLError:
            raise
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            raise TransportError("The server took too long to answer.", code="timeout", host=host) from exc
        except (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise TransportError("The server could not be reached.", code="unreachable", host=host) from exc
        try:
            chunks = self._body_read(response, limit=limit, deadline=deadline, host=host)
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            raise TransportError("The server took too long to answer.", code="timeout", host=host) from exc
        except (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise TransportError("The connection broke while reading.", code="unreachable", host=host) from exc
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=request)

    @staticmethod
    def _body_read(response: httpx.Response, *, limit: int, deadline: float, host: str) -> list[bytes]:
        """The answer's decoded body, refused when it redirects, outgrows `limit` (declared, on the
        wire or decoded) or outlasts `deadline`; network errors are the caller's to translate."""
        if 300 <= response.status_code < 400:
            raise TransportError("The server answered with a redirect, which is not followed.",
                                 code="redirect", status=response.status_code, retryable=False, host=host)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TransportError("The server's answer was too large.", code="too_large", retryable=False,
                                 host=host)
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), host)
        chunks, wire, size = [], 0, 0
        # The stream itself, not iter_raw(): a transport may hand over a response already
        # loaded in memory (tests), whose stream still yields the raw bytes.
        for raw in response.stream:  # type: ignore[union-attr]
            wire += len(raw)
            # Both sizes are capped: decoded bytes (bombs) and wire bytes (padding that decodes to nothing).
            chunk = decoder.decode(raw, limit - size + 1)
            size += len(chunk)
            if size > limit or wire > limit:
                raise TransportError("The server's answer was too large.", code="too_large",
                                     retryable=False, host=host)
            if time.monotonic() > deadline:
                raise TransportError("The server took too long to answer.", code="timeout", host=host)
            chunks.append(chunk)
        return chunks

    @staticmethod
    def _finish(response: httpx.Response, expect_json: bool) -> httpx.Response:
        if expect_json and response.status_code < 300 and not is_json_response(response):
            raise TransportError("The server did not answer with JSON.", code="content_type",
                                 status=response.status_code, retryable=False, host=response.request.url.host)
        return response

    def get_json(self, url: str, *, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                 auth: httpx.Auth | None = None) -> tuple[dict[str, Any], httpx.Response]:
        """GET a JSON object; non-2xx raises TransportError carrying the status."""
        response = self.request("GET", url, headers=headers, params=params, auth=auth, expect_json=True)
        if response.status_code != 200:
            raise TransportError(f"The server answered {response.status_code}.", code="status",
                                 status=response.status_code, retryable=response.status_code >= 500)
        return parse_json_object(response), response

    def close(self) -> None:
        self._transport.close()


def is_json_response(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def parse_json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TransportError("The server's answer was not valid JSON.", code="invalid_json",
                             retryable=False) from exc
    if not isinstance(value, dict):
        raise TransportError("The server's answer was not a JSON object.", code="invalid_json", retryable=False)
    return value


def origin_of(url: str) -> str:
    """scheme://host[:port] with default ports dropped and the host lower-cased."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"
