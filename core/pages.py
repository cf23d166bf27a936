"""The pages' one mapping from errors to answers: an `ApplicationError` a view did not handle
itself (a form re-shown with its message is handled there) becomes an error page with the
error's status and its message, never a 500."""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

from core.errors import ApplicationError, ServiceUnavailable, database_unreachable


def error_page(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = render(request, "core/error.html", {"message": exc.message, "code": exc.code}, status=exc.status)
    for name, value in exc.http_headers().items():
        response[name] = value
    return response


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return error_page(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: Django calls it for an exception nothing handled, in a view or in a middleware
    (loading the session, the member, saving the session), still inside its `except` block. A
    database that cannot be reached is an outage, not a bug: a 503 "try again in a moment" with
    Retry-After (JSON under /api/), rendered without the database (no context processors, no
    member). Anything else is the plain 500 page."""
    if database_unreachable(sys.exc_info()[1]):
        error = ServiceUnavailable()
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"error": error.code, "message": error.message}, status=503)
        else:
            response = HttpResponse(render_to_string("core/unavailable.html", {"message": error.message}),
                                    status=503)
        for name, value in error.http_headers().items():
            response[name] = value
        return response
    return defaults.server_error(request)
