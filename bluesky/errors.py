"""The Django side's errors, documented in one place. Protocol failures stay the protocol's own
(`bluesky.atproto.errors`); these are about members' sessions and posting.

Every error carries `.code` (stable, for programs and metrics) and `.message` (plain words a
member may be shown: never a token, password, key or a server's raw body).

    core.errors.ApplicationError
    └── BlueskyError
        ├── NotConnectedError          no usable session: no identity, no app password, no relay
        ├── SessionEndedError          the server ended the session: the member must reconnect
        ├── AppPasswordSessionError    createSession/refreshSession gave no usable session
        ├── RecordValidationError      a record we were asked to write is not valid
        └── WritesModeError            an unknown writes mode
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError


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


class BlueskyError(ApplicationError):
    """`retry_after`: when a retry may succeed (a 429's reset time), timezone-aware UTC."""

    code = "bluesky_error"
    default_message = _("Something went wrong with the Bluesky connection.")
    http_status = 502
    status_by_code = {Reason.NOT_CONNECTED: 409, Reason.NEEDS_REAUTHORIZATION: 409, Reason.SCOPE_MISSING: 403,
                      Reason.RATE_LIMITED: 429, Reason.INVALID_RECORD: 400, "invalid_writes_mode": 500}


class NotConnectedError(BlueskyError):
    code = Reason.NOT_CONNECTED
    default_message = _("Connect your Bluesky account first.")


class SessionEndedError(BlueskyError):
    code = Reason.NEEDS_REAUTHORIZATION
    default_message = _("Your Bluesky connection has expired. Please reconnect.")


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
