"""One seam between the agents and the protocol clients.

The legacy agent talks to the PDS through `bluesky.atproto.PdsClient` (Bearer app-password
tokens); the OAuth agent through the member's `BlueskySession` (DPoP). Both are normalised here to
`call(method, nsid, params=..., json=...) -> dict` raising `XrpcFailure` / `TransportFailure`, so
the write path and the error mapping are written once.
"""

from __future__ import annotations

from typing import Any

from bluesky.agents.errors import AgentError
from bluesky.agents.results import Reason
from bluesky.atproto import AtprotoError, TransportError, XrpcError

_SESSION_GONE_CODES = {"needs_reconnection", "not_connected"}


class XrpcFailure(Exception):
    """An XRPC error answer: HTTP status, the lexicon error name, the server's message, headers."""

    def __init__(
        self, *, status: int, error: str = "", message: str = "", headers: Any = None, retry_after: Any = None
    ) -> None:
        super().__init__(f"XRPC {status} {error}".strip())
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.retry_after = retry_after


class TransportFailure(Exception):
    """No usable HTTP answer: timeout, refused connection, blocked host, oversized body.
    `retryable` is False for answers that will not get better (a refused URL, a redirect)."""

    def __init__(self, kind: str, *, retryable: bool = True) -> None:
        super().__init__(f"transport failure: {kind}")
        self.kind = kind
        self.retryable = retryable


def failure_from_atproto(exc: AtprotoError) -> XrpcFailure | TransportFailure:
    if isinstance(exc, XrpcError):
        return XrpcFailure(
            status=int(exc.status or 0),
            error=str(exc.error or ""),
            # The server's own words (XrpcError.message is ours and only restates the status).
            message=str(getattr(exc, "server_message", "") or ""),
            headers=exc.headers,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, TransportError):
        return TransportFailure(str(exc.code), retryable=bool(getattr(exc, "retryable", True)))
    # UnsafeURLError and any other client-side refusal: retrying cannot help.
    return TransportFailure(str(getattr(exc, "code", type(exc).__name__)), retryable=False)


def _payload_from_response(response: Any) -> dict[str, Any]:
    """Accept either a decoded JSON dict or an httpx.Response-like object."""
    if isinstance(response, dict):
        return response
    status = getattr(response, "status_code", None)
    if status is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    if status >= 400:
        body = body if isinstance(body, dict) else {}
        raise XrpcFailure(
            status=int(status),
            error=str(body.get("error", "") or ""),
            message=str(body.get("message", "") or ""),
            headers=getattr(response, "headers", None),
        )
    return body if isinstance(body, dict) else {}


def call_with(
    client: Any,
    method: str,
    nsid: str,
    *,
    params: dict[str, Any] | None = None,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Call `nsid` on a PdsClient or a BlueskySession, normalising answers and errors."""
    try:
        if method == "GET":
            kwargs: dict[str, Any] = {"params": params or {}}
            if headers:
                kwargs["headers"] = headers
            response = client.get(nsid, **kwargs)
        else:
            kwargs = {"json": json}
            if headers:
                kwargs["headers"] = headers
            response = client.post(nsid, **kwargs)
    except AtprotoError as exc:
        if exc.code in _SESSION_GONE_CODES:
            # The OAuth service gave up on the session (refresh refused, or disconnected meanwhile).
            raise AgentError(exc.message, code=Reason.NEEDS_REAUTHORIZATION) from exc
        raise failure_from_atproto(exc) from exc
    return _payload_from_response(response)
