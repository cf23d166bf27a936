"""The API's one mapping from errors to answers (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

An `ApplicationError` becomes `{"error": code, "message": message}` with its status and headers
(Retry-After when it says when to come back); anything else is DRF's own answer (validation,
authentication, 404) or, for a bug, a 500 reported as usual.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


def error_response(exc: ApplicationError) -> Response:
    return Response({"error": exc.code, "message": exc.message}, status=exc.status, headers=exc.http_headers())


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return error_response(exc)
    return drf_exception_handler(exc, context)
