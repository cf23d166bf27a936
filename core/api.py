"""The API's one mapping from errors to answers (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

An `ApplicationError` becomes `{"error": code, "message": message}` with its status and headers
(Retry-After when it says when to come back); anything else is DRF's own answer (validation,
authentication, 404) or, for a bug, a 500 reported as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, ServiceUnavailable, database_unreachable
from core.page_cache import page_part_get


def error_response(exc: ApplicationError) -> Response:
    return Response({"error": exc.code, "message": exc.message}, status=exc.status, headers=exc.http_headers())


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return error_response(exc)
    if database_unreachable(exc):
        # An outage, not a bug: the same answer as the pages' (core.pages.server_error).
        return error_response(ServiceUnavailable())
    return drf_exception_handler(exc, context)


def json_body(data: Any) -> bytes:
    """`data` as the API renders it (JSON is its only renderer: REST_FRAMEWORK in settings)."""
    return JSONRenderer().render(data)


def json_response(body: bytes) -> HttpResponse:
    """An answer rendered before (`json_body`), kept in the cache: served as it is."""
    return HttpResponse(body, content_type="application/json")


def kept_json_response(kind: str, pk: int, build: Callable[[], tuple[Any, int]], *, part: str) -> HttpResponse:
    """An answer the same for everyone who may ask for it, kept as its JSON beside the pages of
    that version (core.page_cache.page_part_get): served without building or rendering it again.
    `build` gives the data and how long it stays true without a change."""
    def rendered() -> tuple[bytes, int]:
        data, seconds = build()
        return json_body(data), seconds

    return json_response(cast(bytes, page_part_get(kind, pk, rendered, part=part)))  # rendered() never gives None
