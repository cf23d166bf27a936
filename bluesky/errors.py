"""The Django side's errors, documented in one place. Protocol failures stay the protocol's own
(`bluesky.atproto.errors`); these are about members' sessions and posting.

Every error carries `.code` (stable, for programs and metrics) and `.message` (plain words a
member may be shown: never a token, password, key or a server's raw body).

    BlueskyError
    ├── NotConnectedError          no usable session: no identity, no app password, no relay
    ├── SessionEndedError          the server ended the session: the member must reconnect
    ├── AppPasswordSessionError    createSession/refreshSession gave no usable session
    ├── RecordValidationError      a record we were asked to write is not valid
    └── WritesModeError            an unknown writes mode
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Reason:
    """Stable reason codes: an error's `.code` and a failed `BlueskyResult.reason` (logic, metrics)."""

    NOT_CONNECTED = "not_connected"  # no OAuth identity / no app password and no relay
    SCOPE_MISSING = "scope_missing"  # the OAuth grant does not allow creating posts
    NEEDS_REAUTHORIZATION = "needs_reauthorization"  # session dead (refresh failed / revoked)
    AUTH_FAILED = "auth_failed"  # app password refused by the PDS
    IDENTITY_MISMATCH = "identity_mismatch"  # createSession's DID is not the resolved account
    IDENTITY_UNRESOLVED = "identity_unresolved"
    RATE_LIMITED = "rate_limited"
    INVALID_RECORD = "invalid_record"  # refused by our validation or by the PDS
    RKEY_CONFLICT = "rkey_conflict"  # the record key holds a different record
    SWAP_CONFLICT = "swap_conflict"  # the record kept changing under us (putRecord's swapRecord)
    SERVER_ERROR = "server_error"  # 5xx
    TRANSPORT = "transport"  # timeout, connection refused, blocked host
    REQUEST_REJECTED = "request_rejected"  # any other 4xx
    INTERNAL_ERROR = "internal_error"  # a bug or an unexpected exception: not retried


class BlueskyError(Exception):
    code = "bluesky_error"
    default_message = "Something went wrong with the Bluesky connection."

    def __init__(self, message: str | None = None, *, code: str | None = None, retryable: bool = False,
                 retry_after: datetime | None = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.retryable = retryable
        # When a retry may succeed (a 429's reset time), timezone-aware UTC.
        self.retry_after = retry_after
        super().__init__(self.message)


class NotConnectedError(BlueskyError):
    code = Reason.NOT_CONNECTED
    default_message = "Connect your Bluesky account first."


class SessionEndedError(BlueskyError):
    code = Reason.NEEDS_REAUTHORIZATION
    default_message = "Your Bluesky connection has expired. Please reconnect."


class AppPasswordSessionError(BlueskyError):
    """`retryable` tells transient causes (PDS down, rate limited) from permanent ones (wrong app
    password, DID mismatch)."""

    code = Reason.AUTH_FAILED


@dataclass(frozen=True, slots=True)
class RecordProblem:
    field: str  # a JSON path such as "facets[0].index.byteEnd"
    message: str


class RecordValidationError(BlueskyError):
    code = Reason.INVALID_RECORD

    def __init__(self, problems: list[RecordProblem]) -> None:
        self.problems = list(problems)
        summary = "; ".join(f"{p.field}: {p.message}" for p in self.problems[:5])
        super().__init__(f"The post is not valid: {summary}")


class WritesModeError(BlueskyError):
    code = "invalid_writes_mode"
