"""One seam between the agents and the protocol clients.

The legacy agent talks to the PDS through `bluesky.atproto.PdsClient` (Bearer app-password
tokens); the OAuth agent through the member's `BlueskySession` (DPoP). Both are normalised here to
`call(method, nsid, params=..., json=...) -> dict` raising `XrpcFailure` / `TransportFailure`, so
the write path and the error mapping are written once.
"""

from __future__ import annotations

from typing import Any


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
    """No usable HTTP answer: timeout, refused connection, blocked host, oversized body."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"transport failure: {kind}")
        self.kind = kind


def _atproto_errors() -> tuple[type[BaseException], type[BaseException], type[BaseException]]:
    from bluesky.agents.protocol import protocol

    p = protocol()
    return p.XrpcError, p.TransportError, p.AtprotoError


def failure_from_atproto(exc: BaseException) -> XrpcFailure | TransportFailure:
    xrpc_error, transport_error, _ = _atproto_errors()
    if isinstance(exc, xrpc_error):
        return XrpcFailure(
            status=int(getattr(exc, "status", 0) or 0),
            error=str(getattr(exc, "error", "") or ""),
            message=str(getattr(exc, "message", "") or getattr(exc, "error_message", "") or ""),
            headers=getattr(exc, "headers", None),
            retry_after=getattr(exc, "retry_after", None),
        )
    return TransportFailure(type(exc).__name__)


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
    xrpc_error, transport_error, atproto_error = _atproto_errors()
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
    except (xrpc_error, transport_error) as exc:
        raise failure_from_atproto(exc) from exc
    except atproto_error as exc:
        raise TransportFailure(type(exc).__name__) from exc
    return _payload_from_response(response)
