"""Request ids and member ids on every log line; the JSON log format (LOG_FORMAT=json).

The middleware keeps the current request's id and member id in context variables, so any log
line written while serving it (ours, Django's, a library's) carries them, in both formats.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from config.sentry import SECRET_KEYS, scrub, scrub_text
from core.client_address import client_address

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
member_id_var: ContextVar[str] = ContextVar("member_id", default="")
client_var: ContextVar[str] = ContextVar("client", default="")

# An id handed in by the proxy (X-Request-ID) is kept only if it is short and plain: it ends up in
# log lines, so it must not be a way to inject text into them.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Log extras that are safe error codes, not OAuth authorization codes: kept in JSON log lines.
_LOG_SECRET_KEYS = frozenset(k for k in SECRET_KEYS if k != "code")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        rid_token = request_id_var.set(request_id)
        mid_token = member_id_var.set("")
        # The same client address the rate limits key on (behind our trusted proxies).
        client_token = client_var.set(client_address(request))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(rid_token)
            member_id_var.reset(mid_token)
            client_var.reset(client_token)
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # The member id from the session (no query; the session is read by the views anyway).
        session = getattr(request, "session", None)
        if session is not None:
            from django.contrib.auth import SESSION_KEY

            member_id_var.set(str(session.get(SESSION_KEY, "") or ""))
        return None


class RequestContextFilter(logging.Filter):
    """Adds request_id, member_id and client (empty outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs 4xx/5xx after the middleware returned, with the request attached.
        request = getattr(record, "request", None)
        if not getattr(record, "request_id", ""):
            record.request_id = getattr(request, "request_id", "") or request_id_var.get()
        if not getattr(record, "member_id", ""):
            user = getattr(request, "user", None)
            from_request = str(user.pk) if user is not None and getattr(user, "is_authenticated", False) else ""
            record.member_id = member_id_var.get() or from_request
        if not getattr(record, "client", ""):
            record.client = client_var.get() or (client_address(request) if hasattr(request, "META") else "")
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line; extras scrubbed like Sentry events (a secret never gets a line)."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Django's request logger passes the request object itself; only its path is useful.
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "path"):
            log_data["path"] = request.path
        log_data.pop("server_time", None)
        # Objects (a dataclass would be dumped field by field, secrets included) become their text.
        plain = {k: v if isinstance(v, _JSON_TYPES) else str(v) for k, v in log_data.items()}
        return scrub(plain, secret_keys=_LOG_SECRET_KEYS)


_JSON_TYPES = (str, int, float, bool, type(None), list, dict)


class ScrubSecrets(logging.Filter):
    """Every log line's text goes through the same patterns as Sentry events (API secrets, feed
    tokens, JWTs, PDS tokens and codes, private keys, app passwords), in both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
