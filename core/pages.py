"""The pages' one mapping from errors to answers: an `ApplicationError` a view did not handle
itself (a form re-shown with its message is handled there) becomes an error page with the
error's status and its message, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import ApplicationError


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
