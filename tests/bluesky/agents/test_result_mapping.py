"""How XRPC answers become `BlueskyResult`s (pure mapping; the wire versions are in test_faults.py)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bluesky.agents.base import result_from_transport_error, result_from_xrpc_error
from bluesky.atproto import TransportError
from bluesky.atproto.scopes import scope_allows_posting
from bluesky.atproto.xrpc import retry_after_from_headers, xrpc_error
from bluesky.errors import Reason


def failure(status, error="", message="", headers=None):
    # The answer as the PDS sends it, through the same mapping the client uses.
    return xrpc_error(httpx.Response(status, json={"error": error, "message": message}, headers=headers or {}))


def test_429_uses_ratelimit_reset():
    reset = int((datetime.now(UTC) + timedelta(minutes=7)).timestamp())
    result = result_from_xrpc_error(
        failure(429, "RateLimitExceeded", "Rate Limit Exceeded", {"RateLimit-Reset": str(reset)}), agent="legacy"
    )
    assert not result.success
    assert result.reason == Reason.RATE_LIMITED
    assert result.retryable is True
    assert result.retry_after == datetime.fromtimestamp(reset, UTC)


def test_429_without_reset_is_retryable_without_a_time():
    result = result_from_xrpc_error(failure(429), agent="legacy")
    assert result.retryable and result.retry_after is None


def test_503_retry_after_seconds():
    before = datetime.now(UTC)
    result = result_from_xrpc_error(failure(503, headers={"Retry-After": "30"}), agent="oauth")
    assert result.reason == Reason.SERVER_ERROR and result.retryable
    assert before + timedelta(seconds=29) <= result.retry_after <= datetime.now(UTC) + timedelta(seconds=31)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_retryable(status):
    result = result_from_xrpc_error(failure(status, "InternalServerError"), agent="legacy")
    assert (result.reason, result.retryable) == (Reason.SERVER_ERROR, True)


@pytest.mark.parametrize(
    ("status", "error", "message", "reason"),
    [
        (
            400,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            Reason.INVALID_RECORD,
        ),
        (400, "InvalidRecord", "", Reason.INVALID_RECORD),
        (400, "InvalidSwap", "", Reason.REQUEST_REJECTED),
        (
            403,
            "ScopeMissingError",
            'Missing required scope "repo:app.bsky.feed.post?action=create"',
            Reason.SCOPE_MISSING,
        ),
        (401, "InvalidToken", "", Reason.NEEDS_REAUTHORIZATION),
        (400, "ExpiredToken", "", Reason.NEEDS_REAUTHORIZATION),
        (404, "", "", Reason.REQUEST_REJECTED),
    ],
)
def test_other_4xx_not_retryable(status, error, message, reason):
    result = result_from_xrpc_error(failure(status, error, message), agent="oauth")
    assert result.reason == reason
    assert result.retryable is False and result.retry_after is None
    assert result.error


def test_scope_missing_asks_to_reauthorize():
    result = result_from_xrpc_error(failure(403, "ScopeMissingError"), agent="oauth")
    assert "reauthorize" in result.error.lower()


def test_server_text_is_trimmed():
    result = result_from_xrpc_error(failure(400, "InvalidRequest", "x" * 5000), agent="legacy")
    assert len(result.error) < 400


def test_transport_failure_retryable():
    result = result_from_transport_error(TransportError(code="ReadTimeout"), agent="legacy")
    assert (result.reason, result.retryable) == (Reason.TRANSPORT, True)


def test_retry_after_ignores_garbage():
    assert retry_after_from_headers({"RateLimit-Reset": "soon"}) is None
    assert failure(429, headers={"RateLimit-Reset": "soon"}).retry_after is None


@pytest.mark.parametrize(
    ("scope", "ok"),
    [
        ("atproto transition:generic", True),
        ("atproto repo:app.bsky.feed.post?action=create", True),
        ("atproto repo:app.bsky.feed.post", True),
        ("atproto repo:*", True),
        ("atproto repo?collection=app.bsky.feed.post&action=create", True),
        ("atproto", False),
        ("atproto repo:app.bsky.feed.post?action=delete", False),
        ("atproto repo:app.bsky.feed.like", False),
        ("transition:generic", False),  # atproto is always required
        ("", False),
    ],
)
def test_scope_allows_posting(scope, ok):
    assert scope_allows_posting(scope) is ok
