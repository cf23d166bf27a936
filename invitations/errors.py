"""Errors raised by the invitation services; the API and the pages map them in one place (core)."""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError


class InvitationError(ApplicationError):
    """A request about invitations that cannot be honoured; `code` is stable, the message safe to show."""

    status_by_code = {"not_host": 403, "not_recipient": 403, "not_found": 404}

    def __init__(self, *, code: str, message: str, **fields: Any) -> None:
        super().__init__(message, code=code, **fields)
