"""INTERIM stand-in for `bluesky.atproto` / `bluesky.network`, used only while those modules do not
provide `PdsClient`, `XrpcError`, `TransportError`, `AtprotoError`, `safe_http_client()` and
`identity_resolver()` (being written by the protocol-client engineer). Delete this file once they
land: `bluesky.agents.xrpc` and `bluesky.agents.sessions` prefer the real ones automatically.

It keeps the same guarantees in a reduced form: timeouts, no redirects, a response size cap,
http/loopback hosts refused unless ATPROTO_ALLOW_INSECURE_HOSTS, DID documents checked (id equals
the DID, #atproto_pds service, handle in alsoKnownAs).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

MAX_BODY = 1_000_000
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class AtprotoError(Exception):
    pass


class TransportError(AtprotoError):
    pass


class IdentityResolutionError(AtprotoError):
    pass


class XrpcError(AtprotoError):
    def __init__(self, status: int, error: str = "", message: str = "", headers: Any = None) -> None:
        super().__init__(f"XRPC {status} {error}")
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or httpx.Headers()
        self.retry_after = None


def _check_url(url: str) -> None:
    # untrusted input (PDS URLs come from DID documents): refuse what a public server never is.
    parts = urlsplit(url)
    if settings.ATPROTO_ALLOW_INSECURE_HOSTS:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("blocked url")
        return
    if parts.scheme != "https" or not parts.hostname or parts.hostname == "localhost":
        raise TransportError("blocked url")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not address.is_global:
        raise TransportError("blocked url")


class InterimHttp:
    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self.client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        _check_url(url)
        try:
            with self.client.stream(method, url, **kwargs) as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise TransportError("response too large")
                return httpx.Response(
                    response.status_code, headers=response.headers, content=body, request=response.request
                )
        except httpx.HTTPError as exc:
            raise TransportError(type(exc).__name__) from exc


class PdsClient:
    def __init__(self, *, http: InterimHttp, pds_url: str, access_token: str | None = None, dpop_key=None) -> None:
        self.http = http
        self.pds_url = pds_url.rstrip("/")
        self.access_token = access_token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _handle(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise XrpcError(
                response.status_code, str(body.get("error", "")), str(body.get("message", "")), response.headers
            )
        return body if isinstance(body, dict) else {}

    def get(self, nsid: str, *, params: dict[str, Any] | None = None, headers=None) -> dict[str, Any]:
        url = f"{self.pds_url}/xrpc/{nsid}"
        return self._handle(self.http.request("GET", url, params=params or {}, headers=self._headers(headers)))

    def post(self, nsid: str, *, json: Any = None, headers=None) -> dict[str, Any]:
        url = f"{self.pds_url}/xrpc/{nsid}"
        kwargs: dict[str, Any] = {"headers": self._headers(headers)}
        if json is not None:
            kwargs["json"] = json
        return self._handle(self.http.request("POST", url, **kwargs))


@dataclass(frozen=True)
class ResolvedIdentity:
    did: str
    handle: str
    pds_url: str


class IdentityResolver:
    def __init__(self, *, http: InterimHttp) -> None:
        self.http = http

    def _json(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.http.request("GET", url, params=params or {})
        if response.status_code != 200:
            raise IdentityResolutionError(f"{response.status_code} from identity lookup")
        try:
            body = response.json()
        except ValueError as exc:
            raise IdentityResolutionError("not JSON") from exc
        if not isinstance(body, dict):
            raise IdentityResolutionError("not an object")
        return body

    def resolve(self, handle_or_did: str) -> ResolvedIdentity:
        value = handle_or_did.strip().removeprefix("@")
        handle = ""
        if value.startswith("did:"):
            did = value
        else:
            handle = value.lower()
            if not settings.ATPROTO_HANDLE_RESOLVER_URL:
                raise IdentityResolutionError("no handle resolver configured (interim resolver)")
            did = str(
                self._json(
                    f"{settings.ATPROTO_HANDLE_RESOLVER_URL}/xrpc/com.atproto.identity.resolveHandle",
                    {"handle": handle},
                ).get("did", "")
            )
        if did.startswith("did:plc:"):
            doc = self._json(f"{settings.ATPROTO_PLC_URL}/{did}")
        elif did.startswith("did:web:"):
            doc = self._json(f"https://{did.removeprefix('did:web:')}/.well-known/did.json")
        else:
            raise IdentityResolutionError("unsupported DID")
        if doc.get("id") != did:
            raise IdentityResolutionError("DID document id mismatch")
        pds = next(
            (
                s.get("serviceEndpoint")
                for s in doc.get("service", [])
                if isinstance(s, dict) and str(s.get("id", "")).endswith("#atproto_pds")
            ),
            None,
        )
        if not isinstance(pds, str):
            raise IdentityResolutionError("no #atproto_pds service")
        aka = [a.removeprefix("at://") for a in doc.get("alsoKnownAs", []) if isinstance(a, str)]
        if handle and handle not in aka:
            raise IdentityResolutionError("handle not confirmed by the DID document")
        return ResolvedIdentity(did=did, handle=handle or (aka[0] if aka else "handle.invalid"), pds_url=pds)


_http: InterimHttp | None = None


def safe_http_client() -> InterimHttp:
    global _http
    if _http is None:
        _http = InterimHttp()
    return _http


def identity_resolver() -> IdentityResolver:
    return IdentityResolver(http=safe_http_client())
