"""Errors raised by the events and communities services; views turn them into messages."""

from core.errors import ApplicationError


class ElonaraError(ApplicationError):
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


class NotAllowedError(ElonaraError):
    code = "not_allowed"
    http_status = 403


class InvalidInputError(ElonaraError):
    code = "invalid"
