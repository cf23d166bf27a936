"""Errors of the feed generator. Each carries the XRPC error name (`xrpc_error`) its answer uses:
the App View shows it to the person whose feed failed."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError


class FeedError(ApplicationError):
    code = "feed"
    default_message = _("This feed cannot be served.")
    status_by_code = {"unknown_feed": 400, "bad_request": 400, "auth": 401, "forbidden": 403, "publisher": 503}

    def __init__(self, message: str | None = None, *, code: str | None = None, xrpc_error: str = "InvalidRequest",
                 **fields: Any) -> None:
        super().__init__(message, code=code, **fields)
        self.xrpc_error = xrpc_error
