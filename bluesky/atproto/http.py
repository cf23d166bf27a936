"""The one HTTP client for every URL that came from outside (handles, DID documents, metadata, PDSes).

Guards, all on by default:
- https only (http and loopback/private hosts only with `allow_insecure=True`, for a local
  test network);
- public unicast addresses only, checked at connect time on the address actually connected to:
  the name is resolved once, every answer is checked, and the socket is opened to a checked
  address while TLS still verifies the original host name. A second resolution (DNS rebinding)
  never happens. Literal IPs in every spelling (`127.1`, `2130706433`, `0x7f.1`, `[::ffff:7f00:1]`)
  are parsed the way the C library would and checked the same way;
- no redirects (a 3xx is an error), a total deadline per request (also against slow drip-feeds),
  a response size cap enforced while streaming, and a JSON content-type check where JSON is expected.
One pooled `httpx.Client` serves every call.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from bluesky.atproto.errors import TransportError, UnsafeURLError

ResolveHost = Callable[[str, int], list[str]]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_USER_AGENT = "Elonara/1.0 (AT Protocol OAuth client)"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
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


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return bool(ip.is_global) and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class _GuardedNetworkBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, and connects only to a checked one."""

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
                candidates = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolve(host, port)]
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
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise UnsafeURLError("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PoolStream(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.stream
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx.ReadError(str(exc)) from exc

    def close(self) -> None:
        self._response.close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose sockets go through the guarded backend."""

    def __init__(self, *, resolve_host: ResolveHost, allow_private: bool,
                 network_backend: httpcore.NetworkBackend | None = None, max_connections: int = 50) -> None:
        self.backend = _GuardedNetworkBackend(resolve_host=resolve_host, allow_private=allow_private,
                                              inner=network_backend)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
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


class SafeHttpClient:
    """Pooled, SSRF-guarded HTTP for URLs from outside. Thread-safe; share one per process."""

    def __init__(self, *, allow_insecure: bool = False, transport: httpx.BaseTransport | None = None,
                 resolve_host: ResolveHost | None = None, network_backend: httpcore.NetworkBackend | None = None,
                 timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 user_agent: str = DEFAULT_USER_AGENT) -> None:
        self.allow_insecure = allow_insecure
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.request_count = 0  # every request put on the wire, retries included (benchmarks read it)
        self.request_hooks: list[Callable[[httpx.Request], None]] = []
        self._transport = transport or GuardedTransport(
            resolve_host=resolve_host or _system_resolve, allow_private=allow_insecure,
            network_backend=network_backend,
        )
        self._client = httpx.Client(
            transport=self._transport,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent},
            event_hooks={"request": [self._count]},
            trust_env=False,
        )

    def _count(self, request: httpx.Request) -> None:
        self.request_count += 1
        for hook in self.request_hooks:
            hook(request)

    def add_request_hook(self, hook: Callable[[httpx.Request], None]) -> None:
        """Observe every request put on the wire (benchmarks and tests count them)."""
        self.request_hooks.append(hook)

    def check_url(self, url: str) -> str:
        """Refuse what must never be fetched, before any connection: scheme, credentials, odd hosts."""
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
        literal = parse_ip_literal(parts.hostname)
        if literal is not None and not self.allow_insecure and not is_public_address(literal):
            raise UnsafeURLError("That address points to a private or reserved network.", code="private_address")
        if not self.allow_insecure and (parts.hostname == "localhost" or parts.hostname.endswith(".localhost")):
            raise UnsafeURLError("That address points to this machine.", code="private_address")
        return url

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                json_body: Any = None, content: bytes | None = None, auth: httpx.Auth | None = None,
                expect_json: bool = False,
                max_bytes: int | None = None, timeout: float | None = None) -> httpx.Response:
        """Send one request (plus any retry its `auth` flow makes) and return the read response.

        Raises UnsafeURLError or TransportError; any HTTP status is returned, except redirects.
        """
        self.check_url(url)
        limit = max_bytes or self.max_bytes
        budget = timeout or self.timeout
        deadline = time.monotonic() + budget
        request = self._client.build_request(method, url, headers=headers, params=params, data=data,
                                             json=json_body, content=content, timeout=httpx.Timeout(budget))
        host = request.url.host
        try:
            response = self._client.send(request, auth=auth, stream=True)
        except UnsafeURLError:
            raise
        except httpx.TimeoutException as exc:
            raise TransportError("The server took too long to answer.", code="timeout", host=host) from exc
        except httpx.HTTPError as exc:
            raise TransportError("The server could not be reached.", code="unreachable", host=host) from exc
        try:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise TransportError("The server answered with a redirect, which is not followed.",
                                     code="redirect", status=response.status_code, retryable=False, host=host)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise TransportError("The server's answer was too large.", code="too_large", retryable=False,
                                     host=host)
            chunks, size = [], 0
            # Decoded bytes are counted, so a compressed bomb hits the cap too.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise TransportError("The server's answer was too large.", code="too_large",
                                         retryable=False, host=host)
                if time.monotonic() > deadline:
                    raise TransportError("The server took too long to answer.", code="timeout", host=host)
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise TransportError("The server took too long to answer.", code="timeout", host=host) from exc
        except httpx.HTTPError as exc:
            raise TransportError("The connection broke while reading.", code="unreachable", host=host) from exc
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        result = httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                                request=response.request)
        if expect_json and response.status_code < 300 and not is_json_response(result):
            raise TransportError("The server did not answer with JSON.", code="content_type",
                                 status=response.status_code, retryable=False, host=host)
        return result

    def get_json(self, url: str, *, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                 auth: httpx.Auth | None = None) -> tuple[dict[str, Any], httpx.Response]:
        """GET a JSON object; non-2xx raises TransportError carrying the status."""
        response = self.request("GET", url, headers=headers, params=params, auth=auth, expect_json=True)
        if response.status_code != 200:
            raise TransportError(f"The server answered {response.status_code}.", code="status",
                                 status=response.status_code, retryable=response.status_code >= 500)
        return parse_json_object(response), response

    def close(self) -> None:
        self._client.close()


def is_json_response(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
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
