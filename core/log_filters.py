"""Logging filters. Kept free of Django imports: settings load them before apps are ready."""

from __future__ import annotations

import logging
import re

# /calendar/feed/<token>.ics: the token is a bearer secret (calendar apps cannot log in), so
# runserver's request lines and django.request's 4xx warnings must not carry it.
# Likewise the links sent by mail: a password reset (/members/password-reset/<uid>/<token>/), an
# address confirmation and a one-click unsubscribe (/notifications/confirm|unsubscribe/<signed>/).
_FEED_TOKEN = re.compile(r"(/calendar/feed/)[A-Za-z0-9_\-]+"
                         r"|(/members/password-reset/[A-Za-z0-9_\-]+/)(?!set-password/)[A-Za-z0-9_\-]+"
                         r"|(/notifications/(?:confirm|unsubscribe)/)[A-Za-z0-9_\-:.]+")


def redact_feed_tokens(text: str) -> str:
    return _FEED_TOKEN.sub(lambda m: next(g for g in m.groups() if g) + "[redacted]", text)


class RedactCalendarFeedTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_feed_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        # django.request attaches the request itself; a handler formatting it would show the path.
        request = getattr(record, "request", None)
        if request is not None and _FEED_TOKEN.search(getattr(request, "path", "") or ""):
            record.request = None
        return True
