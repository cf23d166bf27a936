"""Errors raised by the events and communities services; views turn them into messages."""


class ElonaraError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowedError(ElonaraError):
    code = "not_allowed"


class InvalidInputError(ElonaraError):
    code = "invalid"
