"""What a post attempt returns: `BlueskyResult`, the one shape every agent answers with.

Callers (invitations) decide on `success`, `retryable` and `retry_after` alone; `reason` is a
stable code for logic and metrics, `error` a sentence safe to show a member (it never holds a
token, a password or a server's raw body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Reason:
    """Stable reason codes carried by failed results (and by `BlueskyResult.reason`)."""

    NOT_CONNECTED = "not_connected"  # no OAuth identity / no app password and no relay
    RELAY_NOT_CONFIGURED = "relay_not_configured"
    SCOPE_MISSING = "scope_missing"  # the OAuth grant does not allow creating posts
    NEEDS_REAUTHORIZATION = "needs_reauthorization"  # session dead (refresh failed / revoked)
    AUTH_FAILED = "auth_failed"  # app password refused by the PDS
    IDENTITY_MISMATCH = "identity_mismatch"  # createSession's DID is not the resolved account
    IDENTITY_UNRESOLVED = "identity_unresolved"
    RATE_LIMITED = "rate_limited"
    INVALID_RECORD = "invalid_record"  # refused by our validation or by the PDS
    RKEY_CONFLICT = "rkey_conflict"  # the record key holds a different record
    SERVER_ERROR = "server_error"  # 5xx
    TRANSPORT = "transport"  # timeout, connection refused, blocked host
    REQUEST_REJECTED = "request_rejected"  # any other 4xx
    INTERNAL_ERROR = "internal_error"  # a bug or an unexpected exception: not retried


@dataclass(frozen=True, slots=True)
class BlueskyResult:
    success: bool
    error: str = ""
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    uri: str = ""
    cid: str = ""
    retryable: bool = False
    # When a retry may succeed (a 429's RateLimit-Reset), timezone-aware UTC; None = caller's backoff.
    retry_after: datetime | None = None
    # Which agent produced it ("legacy" / "oauth") and the repo written to, for logs and audits.
    agent: str = ""
    repo_did: str = ""
    # True when the record key already held this exact record (an earlier attempt succeeded).
    already_existed: bool = False

    @classmethod
    def ok(
        cls,
        *,
        uri: str,
        cid: str,
        payload: dict[str, Any] | None = None,
        agent: str = "",
        repo_did: str = "",
        already_existed: bool = False,
    ) -> BlueskyResult:
        return cls(
            success=True,
            uri=uri,
            cid=cid,
            payload=dict(payload or {}),
            agent=agent,
            repo_did=repo_did,
            already_existed=already_existed,
        )

    @classmethod
    def failure(
        cls,
        *,
        reason: str,
        error: str,
        retryable: bool = False,
        retry_after: datetime | None = None,
        payload: dict[str, Any] | None = None,
        agent: str = "",
        repo_did: str = "",
    ) -> BlueskyResult:
        return cls(
            success=False,
            reason=reason,
            error=error,
            retryable=retryable,
            retry_after=retry_after,
            payload=dict(payload or {}),
            agent=agent,
            repo_did=repo_did,
        )

    @property
    def rkey(self) -> str:
        """The record key of the created record (last segment of its at:// URI)."""
        return self.uri.rsplit("/", 1)[-1] if self.uri else ""
