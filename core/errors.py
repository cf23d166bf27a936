"""The one application error base. Every app's errors derive from it; the protocol package
(`bluesky.atproto`, Django-free) keeps its own tree and is wrapped at the seam.

An error carries:
- `code`: stable, short, for programs, logs and metric labels;
- `message`: plain words a person may be shown (never a token, password, key or a server's raw body);
- `retryable` and `retry_after` (a timezone-aware UTC moment): whether and when trying again may help;
- `fields`: structured details (a form field's name, a limit's name, ...).

How an error becomes an HTTP answer is decided in one place per kind of client: `core.api`
(the DRF exception handler, JSON) and `core.pages` (the middleware, an error page). A class says
which status it means with `http_status`, or per code with `status_by_code`.

    ApplicationError
    ├── core.errors.ServiceUnavailable           503: the database cannot be reached, nothing was changed
    ├── core.ratelimit.RateLimitedError          429, retry_after = the window's end
    ├── bluesky.errors.BlueskyError              sessions, posting, writes mode
    ├── bluesky.budget.PacingBusy                the shared write budget's lock is busy
    ├── bluesky.graph.GraphError                 a graph page could not be read
    ├── bluesky.crypto.SecretDecryptionError     a stored secret has no key to open it
    ├── elonara.errors.ElonaraError              events and communities
    ├── invitations.errors.InvitationError       invitations
    ├── invitations.composer.ComposeError        a post that cannot be composed
    ├── members.api_tokens.ApiTokenError         an API token that cannot be used
    └── notifications.services.EmailError        a mail link or choice that cannot be used
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code: str = "error"
    # Marked with gettext_lazy: read in the language of the request (or task) that raises it.
    default_message: str | Promise = _("Something went wrong.")
    http_status: ClassVar[int] = 400
    status_by_code: ClassVar[dict[str, int]] = {}

    def __init__(self, message: str | None = None, *, code: str | None = None, retryable: bool = False,
                 retry_after: datetime | None = None, **fields: Any) -> None:
        # Made a plain string when raised, in the language active then: errors are pickled
        # (Celery) and compared as text, which a lazy string would make fragile.
        self.message = str(message or self.default_message)
        if code:
            self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.fields = fields
        super().__init__(self.message)

    @property
    def status(self) -> int:
        """The HTTP status this error means when it reaches a response."""
        return self.status_by_code.get(self.code, self.http_status)

    @property
    def retry_after_seconds(self) -> int | None:
        """Whole seconds until `retry_after` (at least 1), for a Retry-After header."""
        if self.retry_after is None:
            return None
        return max(1, math.ceil((self.retry_after - datetime.now(UTC)).total_seconds()))

    def http_headers(self) -> dict[str, str]:
        seconds = self.retry_after_seconds
        return {"Retry-After": str(seconds)} if seconds is not None else {}


# How long a visitor is asked to wait when the database cannot be reached (Retry-After).
UNAVAILABLE_RETRY_SECONDS = 10


class ServiceUnavailable(ApplicationError):
    """The database does not answer (stopped, restarting, unreachable). A write in progress was
    rolled back with its transaction, so the answer can say that nothing was changed."""

    code = "unavailable"
    http_status = 503
    default_message = _("Elonara cannot reach its database right now. Nothing was changed: "
                        "please try again in a moment.")

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", True)
        kwargs.setdefault("retry_after", datetime.now(UTC) + timedelta(seconds=UNAVAILABLE_RETRY_SECONDS))
        super().__init__(message, **kwargs)


def database_unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached (not a bug in a query): Django's
    OperationalError (refused, closed by the server, timed out) or InterfaceError (the connection
    is gone)."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__  # the driver's own error, which Django's wraps
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        # SQLite says "operational" for a missing table too (a bug): only a locked or unopenable
        # database file is an outage.
        return "locked" in str(cause) or "unable to open" in str(cause)
    return True
