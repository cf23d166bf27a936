"""Typed errors of the posting layer. Agents turn every one of them into a `BlueskyResult`;
they escape only from services that are not posting (admin checks, the app-password form)."""

from __future__ import annotations

from dataclasses import dataclass


class AgentError(Exception):
    """Base class. `code` is a `Reason` value; the message is safe to show (no secrets)."""

    code = "agent_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


@dataclass(frozen=True, slots=True)
class RecordProblem:
    field: str  # a JSON path such as "facets[0].index.byteEnd"
    message: str


class RecordValidationError(AgentError):
    code = "invalid_record"

    def __init__(self, problems: list[RecordProblem]) -> None:
        self.problems = list(problems)
        summary = "; ".join(f"{p.field}: {p.message}" for p in self.problems[:5])
        super().__init__(f"The post is not valid: {summary}")


class AppPasswordSessionError(AgentError):
    """createSession/refreshSession could not give us a usable session.

    `retryable` tells transient causes (PDS down, rate limited) from permanent ones (wrong app
    password, DID mismatch); `retry_after` carries a 429's reset time.
    """

    def __init__(self, message: str, *, code: str, retryable: bool = False, retry_after=None) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.retry_after = retry_after


class WritesModeError(AgentError):
    code = "invalid_writes_mode"
