"""One error base, mapped to answers in one place for the API and one for pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from bluesky.budget import PacingBusy
from bluesky.crypto import SecretDecryptionError
from bluesky.errors import BlueskyError, NotConnectedError, SessionEndedError
from bluesky.graph import GraphError
from core.api import exception_handler
from core.errors import ApplicationError
from core.pages import ApplicationErrorMiddleware
from core.ratelimit import Limit, RateLimitedError
from elonara.errors import ElonaraError, NotAllowedError
from invitations.composer import ComposeError
from invitations.errors import InvitationError
from members.api_tokens import ApiTokenError


def test_every_apps_errors_derive_from_the_one_base():
    for cls in (RateLimitedError, BlueskyError, PacingBusy, GraphError, SecretDecryptionError, ElonaraError,
                InvitationError, ComposeError, ApiTokenError):
        assert issubclass(cls, ApplicationError), cls


@pytest.mark.parametrize(("error", "status", "code"), [
    (InvitationError(code="not_host", message="Only the host can invite people here."), 403, "not_host"),
    (InvitationError(code="no_recipients", message="Pick at least one person to invite."), 400, "no_recipients"),
    (GraphError(code="not_connected", message="Connect first."), 409, "not_connected"),
    (GraphError(code="upstream", message="Bluesky could not be reached; try again.", status=503), 502, "upstream"),
    (NotConnectedError(), 409, "not_connected"),
    (SessionEndedError(), 409, "needs_reauthorization"),
    (NotAllowedError("Only the host can edit this event."), 403, "not_allowed"),
    (ElonaraError("Pick a date."), 400, "invalid"),
    (ApiTokenError("This token is not valid."), 401, "invalid_token"),
])
def test_api_answers_with_the_errors_status_code_and_message(error, status, code):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data == {"error": code, "message": error.message}


def test_api_says_when_to_come_back():
    response = exception_handler(RateLimitedError(limit=Limit(name="x", count=1, per_seconds=60), retry_after=90), {})
    assert response.status_code == 429
    assert 89 <= int(response["Retry-After"]) <= 90
    unauthorized = exception_handler(ApiTokenError("This token is not valid."), {})
    assert unauthorized["WWW-Authenticate"].startswith("Bearer ")


def test_a_bluesky_reset_time_becomes_retry_after():
    error = BlueskyError("Slow down.", code="rate_limited", retryable=True,
                         retry_after=datetime.now(UTC) + timedelta(seconds=120))
    response = exception_handler(error, {})
    assert response.status_code == 429 and 119 <= int(response["Retry-After"]) <= 120


def test_other_exceptions_are_left_to_drf():
    from rest_framework.exceptions import NotFound

    assert exception_handler(NotFound(), {}).status_code == 404
    assert exception_handler(ValueError("a bug"), {}) is None  # a 500, reported as usual


@pytest.mark.django_db
def test_pages_show_an_unhandled_error_with_its_status_not_a_500():
    request = RequestFactory().get("/somewhere/")
    middleware = ApplicationErrorMiddleware(lambda r: None)
    response = middleware.process_exception(request, NotAllowedError("Only the host can edit this event."))
    assert response.status_code == 403
    assert "Only the host can edit this event." in response.content.decode()
    limited = middleware.process_exception(request, RateLimitedError(limit=Limit(name="x", count=1, per_seconds=60),
                                                                     retry_after=30))
    assert limited.status_code == 429 and int(limited["Retry-After"]) <= 30
    assert middleware.process_exception(request, ValueError("a bug")) is None
