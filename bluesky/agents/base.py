"""`BlueskyAgentInterface`: the one way Elonara writes a post. Callers never know which backend.

Every agent: validates the record before any request, writes with com.atproto.repo.createRecord
(with the caller's record key when given, so a retried task can never create a second post), and
maps every failure to a `BlueskyResult` (no exception escapes `create_post_for_member`).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bluesky.agents.errors import AgentError, RecordValidationError
from bluesky.agents.results import BlueskyResult, Reason
from bluesky.agents.validation import POST_NSID, is_valid_rkey, validate_post_record
from bluesky.agents.xrpc import TransportFailure, XrpcFailure

logger = logging.getLogger(__name__)

# (method, nsid, params=, json=) -> response JSON; raises XrpcFailure / TransportFailure.
XrpcCall = Callable[..., dict[str, Any]]

_SERVER_MESSAGE_MAX = 200


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    if value is None and isinstance(headers, dict):
        # Plain dicts are case-sensitive; httpx.Headers is not.
        lowered = {str(k).lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    return value


def retry_after_from(exc: XrpcFailure) -> datetime | None:
    """When to try again after a 429/503: RateLimit-Reset (epoch seconds) or Retry-After (seconds)."""
    headers = getattr(exc, "headers", None)
    reset = _header(headers, "ratelimit-reset")
    if reset:
        try:
            return datetime.fromtimestamp(int(float(reset)), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    retry = _header(headers, "retry-after")
    if retry:
        try:
            return datetime.fromtimestamp(datetime.now(tz=UTC).timestamp() + float(retry), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    explicit = getattr(exc, "retry_after", None)
    if isinstance(explicit, datetime):
        return explicit if explicit.tzinfo else explicit.replace(tzinfo=UTC)
    if isinstance(explicit, int | float):
        # Either an epoch timestamp or a delay in seconds, depending on size.
        ts = explicit if explicit > 1_000_000_000 else datetime.now(tz=UTC).timestamp() + explicit
        return datetime.fromtimestamp(ts, tz=UTC)
    return None


def _server_words(exc: XrpcFailure) -> str:
    """The server's error name and message, trimmed: shown to members, so never our own secrets
    (servers never echo our tokens back in error bodies; the length cap keeps junk out)."""
    name = str(getattr(exc, "error", "") or "")
    message = str(getattr(exc, "message", "") or "")
    words = f"{name}: {message}" if name and message else (name or message)
    return words[:_SERVER_MESSAGE_MAX]


def result_from_xrpc_error(exc: XrpcFailure, *, agent: str, repo_did: str = "") -> BlueskyResult:
    status = int(getattr(exc, "status", 0) or 0)
    error = str(getattr(exc, "error", "") or "")
    words = _server_words(exc)
    common = {"agent": agent, "repo_did": repo_did, "payload": {"status": status, "error": error}}
    if status == 429:
        return BlueskyResult.failure(
            reason=Reason.RATE_LIMITED,
            error="Bluesky's rate limit was reached; the post will be retried later.",
            retryable=True,
            retry_after=retry_after_from(exc),
            **common,
        )
    if status >= 500:
        return BlueskyResult.failure(
            reason=Reason.SERVER_ERROR,
            error=f"The Bluesky server had a problem ({status}); the post will be retried.",
            retryable=True,
            retry_after=retry_after_from(exc),
            **common,
        )
    if status == 403 and error == "ScopeMissingError":
        return BlueskyResult.failure(
            reason=Reason.SCOPE_MISSING,
            error="Your Bluesky connection does not allow creating posts. Please reauthorize Elonara on your "
            "Bluesky card and grant posting permission.",
            **common,
        )
    if status == 401 or error in ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"):
        return BlueskyResult.failure(
            reason=Reason.NEEDS_REAUTHORIZATION,
            error="Bluesky refused our session; please reconnect the Bluesky account.",
            **common,
        )
    if status == 400 and (error == "InvalidRecord" or "record" in words.lower()):
        return BlueskyResult.failure(
            reason=Reason.INVALID_RECORD, error=f"Bluesky refused the post ({words}).", **common
        )
    return BlueskyResult.failure(
        reason=Reason.REQUEST_REJECTED,
        error=f"Bluesky refused the request ({status}{': ' + words if words else ''}).",
        **common,
    )


def result_from_transport_error(exc: Exception, *, agent: str, repo_did: str = "") -> BlueskyResult:
    retryable = bool(getattr(exc, "retryable", True))
    return BlueskyResult.failure(
        reason=Reason.TRANSPORT,
        error=(
            "Could not reach the Bluesky server (timeout or connection problem); the post will be retried."
            if retryable
            else "The Bluesky server gave an answer that cannot be used."
        ),
        retryable=retryable,
        payload={"error": str(getattr(exc, "kind", "") or type(exc).__name__)},
        agent=agent,
        repo_did=repo_did,
    )


class BlueskyAgentInterface(abc.ABC):
    """Writes posts for members. Implementations: `LegacyBlueskyAgent`, `OAuthBlueskyAgent`."""

    name: str = ""

    def create_post_for_member(self, member, record: dict[str, Any], *, rkey: str | None = None) -> BlueskyResult:
        """Create `record` (an app.bsky.feed.post) for `member`.

        `rkey`: fix the record key before the first attempt so a retry can never create a second
        post; if that key already holds this exact record, the result is a success with the
        existing URI/CID and `already_existed=True`.
        """
        try:
            validate_post_record(record)
        except RecordValidationError as exc:
            return BlueskyResult.failure(
                reason=Reason.INVALID_RECORD,
                error=exc.message,
                payload={"problems": [{"field": p.field, "message": p.message} for p in exc.problems]},
                agent=self.name,
            )
        if rkey is not None and not is_valid_rkey(rkey):
            return BlueskyResult.failure(
                reason=Reason.INVALID_RECORD, error="The record key is not valid.", agent=self.name
            )
        try:
            return self._create_post(member, record, rkey=rkey)
        except AgentError as exc:
            return BlueskyResult.failure(
                reason=exc.code,
                error=exc.message,
                retryable=bool(getattr(exc, "retryable", False)),
                retry_after=getattr(exc, "retry_after", None),
                agent=self.name,
            )
        except XrpcFailure as exc:
            return result_from_xrpc_error(exc, agent=self.name)
        except TransportFailure as exc:
            return result_from_transport_error(exc, agent=self.name)
        except Exception as exc:  # noqa: BLE001 - the contract: callers always get a BlueskyResult
            return self._result_from_unexpected(exc)

    def _result_from_unexpected(self, exc: Exception) -> BlueskyResult:
        """Errors raised outside our XRPC seam (e.g. by the OAuth service while refreshing)."""
        from bluesky.agents.protocol import protocol
        from bluesky.agents.xrpc import failure_from_atproto

        p = protocol()
        if isinstance(exc, p.XrpcError | p.TransportError):
            failure = failure_from_atproto(exc)
            if isinstance(failure, XrpcFailure):
                return result_from_xrpc_error(failure, agent=self.name)
            return result_from_transport_error(failure, agent=self.name)
        code = str(getattr(exc, "code", "") or "")
        if code in ("needs_reconnection", "invalid_grant", "not_connected", "revoked"):
            return BlueskyResult.failure(
                reason=Reason.NEEDS_REAUTHORIZATION,
                error="Your Bluesky connection has expired; please reconnect your Bluesky account.",
                agent=self.name,
            )
        # Only the class name is logged: exception text could carry server-controlled content.
        logger.error("unexpected error while posting to Bluesky: %s", type(exc).__name__)
        return BlueskyResult.failure(
            reason=Reason.INTERNAL_ERROR,
            error="Something went wrong while posting to Bluesky.",
            retryable=False,
            agent=self.name,
        )

    @abc.abstractmethod
    def _create_post(self, member, record: dict[str, Any], *, rkey: str | None) -> BlueskyResult: ...

    # --- shared write path -------------------------------------------------------------------

    def _write_post(self, *, call: XrpcCall, repo_did: str, record: dict[str, Any], rkey: str | None) -> BlueskyResult:
        body: dict[str, Any] = {"repo": repo_did, "collection": POST_NSID, "record": record}
        if rkey:
            body["rkey"] = rkey
        try:
            payload = call("POST", "com.atproto.repo.createRecord", json=body)
        except XrpcFailure as exc:
            # A taken key is refused in a server-specific way (the official PDS answers 500 "There is
            # already a value at key"; others 400/409), and a 5xx may also hide a write that did happen.
            # So with a fixed key, read it back: if it holds exactly this record, an earlier attempt
            # succeeded and this is that post, not a failure.
            if rkey and (exc.status in (400, 409) or exc.status >= 500):
                settled = self._settle_from_existing(call=call, repo_did=repo_did, record=record, rkey=rkey)
                if settled is not None:
                    return settled
            return result_from_xrpc_error(exc, agent=self.name, repo_did=repo_did)
        except TransportFailure as exc:
            # A timeout may come after the PDS committed the write: same read-back.
            if rkey:
                settled = self._settle_from_existing(call=call, repo_did=repo_did, record=record, rkey=rkey)
                if settled is not None:
                    return settled
            return result_from_transport_error(exc, agent=self.name, repo_did=repo_did)
        uri, cid = payload.get("uri"), payload.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not uri.startswith("at://"):
            return BlueskyResult.failure(
                reason=Reason.REQUEST_REJECTED,
                error="The Bluesky server did not return the created post.",
                retryable=False,
                agent=self.name,
                repo_did=repo_did,
            )
        return BlueskyResult.ok(uri=uri, cid=cid, payload=payload, agent=self.name, repo_did=repo_did)

    def _settle_from_existing(
        self, *, call: XrpcCall, repo_did: str, record: dict[str, Any], rkey: str
    ) -> BlueskyResult | None:
        existing = self._read_existing(call=call, repo_did=repo_did, rkey=rkey)
        if existing is None:
            return None
        if existing.get("value") == record:
            return BlueskyResult.ok(
                uri=str(existing.get("uri", "")),
                cid=str(existing.get("cid", "")),
                payload=existing,
                agent=self.name,
                repo_did=repo_did,
                already_existed=True,
            )
        return BlueskyResult.failure(
            reason=Reason.RKEY_CONFLICT,
            error="A different post already uses this record key.",
            agent=self.name,
            repo_did=repo_did,
        )

    def _read_existing(self, *, call: XrpcCall, repo_did: str, rkey: str) -> dict[str, Any] | None:
        try:
            return call(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": repo_did, "collection": POST_NSID, "rkey": rkey},
            )
        except (XrpcFailure, TransportFailure):
            return None
