"""What a post attempt returns: `BlueskyResult`, the one shape every agent answers with.

Callers (invitations) decide on `success`, `retryable` and `retry_after` alone; `reason` is a
stable code (`bluesky.errors.Reason`) for logic and metrics, `error` a sentence safe to show a member (it never holds a
token, a password or a server's raw body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
