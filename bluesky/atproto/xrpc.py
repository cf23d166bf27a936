"""XRPC calls on a member's PDS, with a DPoP-bound OAuth token or an app-password (Bearer) session."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bluesky.atproto.dpop import DpopAuth, DpopKey, DpopNonceStore
from bluesky.atproto.errors import InvalidTokenError, TransportError, XrpcError
from bluesky.atproto.http import SafeHttpClient, is_json_response

_KEPT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy",
                 "www-authenticate", "retry-after")
# The error names a PDS uses for "this token is no good" (DPoP: 401 invalid_token; app-password
# sessions: 400 ExpiredToken / InvalidToken, 401 AuthenticationRequired / AuthMissing).
TOKEN_ERROR_NAMES = frozenset({"invalid_token", "InvalidToken", "ExpiredToken", "AuthenticationRequired",
                               "AuthMissing"})


def retry_after_from_headers(headers: httpx.Headers | dict[str, str], *, now: float | None = None) -> datetime | None:
    """When a 429/503 may be retried: `RateLimit-Reset` (epoch seconds) or `Retry-After` (seconds)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    reset = (lowered.get("ratelimit-reset") or "").strip()
    if reset:
        try:
            return datetime.fromtimestamp(int(float(reset)), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    delay = (lowered.get("retry-after") or "").strip()
    if delay:
        try:
            base = time.time() if now is None else now
            return datetime.fromtimestamp(base + max(float(delay), 0.0), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return None


def is_token_rejection(status: int, error: str) -> bool:
    """The server refused the access token itself (not a nonce challenge: DpopAuth answers those)."""
    return (status == 401 and error != "use_dpop_nonce") or (status == 400 and error in TOKEN_ERROR_NAMES)


def xrpc_error(response: httpx.Response) -> XrpcError:
    error = server_message = ""
    if is_json_response(response):
        try:
            body = response.json()
            error = str(body.get("error", ""))[:100]
            server_message = str(body.get("message", ""))
        except (ValueError, AttributeError):
            pass
    challenge = response.headers.get("www-authenticate", "")
    if response.status_code == 401 and 'error="invalid_token"' in challenge:
        error = error or "invalid_token"
    retry_after = retry_after_from_headers(response.headers)
    headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
    kind = InvalidTokenError if is_token_rejection(response.status_code, error) else XrpcError
    return kind(status=response.status_code, error=error, server_message=server_message,
                retry_after=retry_after, headers=headers)


class PdsClient:
    """`get`/`post` an XRPC method. With `dpop_key` the token is sent as `DPoP` with a proof;
    without, as `Bearer` (app-password sessions only: OAuth tokens must never go as Bearer)."""

    def __init__(self, *, http: SafeHttpClient, pds_url: str, access_token: str | None = None,
                 dpop_key: DpopKey | None = None, nonce_store: DpopNonceStore | None = None) -> None:
        self.http = http
        self.pds_url = pds_url.rstrip("/")
        self.access_token = access_token
        self.dpop_key = dpop_key
        self.nonces = nonce_store or DpopNonceStore()

    def call(self, method: str, nsid: str, *, params: dict[str, Any] | None = None,
              json_body: Any = None, content: bytes | None = None,
              headers: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.pds_url}/xrpc/{nsid}"
        request_headers = dict(headers or {})
        auth = None
        if self.dpop_key is not None:
            auth = DpopAuth(self.dpop_key, self.nonces, access_token=self.access_token)
        elif self.access_token:
            request_headers["Authorization"] = f"Bearer {self.access_token}"
        response = self.http.request(method, url, params=params, json_body=json_body, content=content,
                                     headers=request_headers, auth=auth)
        if response.status_code >= 300:
            raise xrpc_error(response)
        if not response.content:
            return {}
        if not is_json_response(response):
            raise TransportError("The server did not answer with JSON.", code="content_type", retryable=False)
        body = response.json()
        return body if isinstance(body, dict) else {"value": body}

    def get(self, nsid: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.call("GET", nsid, params=params, headers=headers)

    def post(self, nsid: str, json: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.call("POST", nsid, json_body=json, headers=headers)
