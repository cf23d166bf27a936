"""Which language a request is answered in, and the middleware that turns it on.

The order (issue 39): the member's own setting (on their profile), then a choice made on the page
(the footer's menu, remembered in a cookie: visitors have nothing else), then the browser's
`Accept-Language`, then English. URLs carry no language: a shared link opens in the reader's
language. Foundation code: the member's setting is read as `request.user.language` without
importing the members app.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers


def supported_language(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES ("pt-BR" and "pt_br" are "pt-br"; "de-AT" falls back
    to "de"), or None when none fits."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return None


def language_tag(code: str) -> str:
    """A language of settings.LANGUAGES as a BCP-47 tag for records (a post's `langs`): "pt-br" is
    "pt-BR", "ja" stays "ja"."""
    language, _, region = code.partition("-")
    return f"{language}-{region.upper()}" if region else language


def member_language(member: object) -> str:
    """The language to write to a member in when they are not reading (mail): their own setting,
    else the language their last page was answered in (`last_language`), else English."""
    return (supported_language(getattr(member, "language", ""))
            or supported_language(getattr(member, "last_language", ""))
            or settings.LANGUAGE_CODE)


def _remember_language(request: HttpRequest, language: str) -> None:
    """A signed-in member's page answered in another language than the last one: one UPDATE of
    their row, only on a change (never per request), so their mail can follow it. Duck-typed on
    the user model (core imports no app); their kept row is renewed by the write (pages.table)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "last_language", language) == language:
        return
    user._meta.default_manager.filter(pk=user.pk).update(last_language=language)
    user.last_language = language


def request_language(request: HttpRequest) -> str:
    member_choice = getattr(getattr(request, "user", None), "language", "")
    return (supported_language(member_choice)
            or supported_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
            or supported_language(translation.get_language_from_request(request, check_path=False))
            or settings.LANGUAGE_CODE)


class LanguageMiddleware:
    """Answers each request in `request_language`. After the authentication middleware (the
    member's setting comes first). Pages kept whole or in parts are kept per language
    (core.page_cache), and the answer says which language it is in and what it varied on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        _remember_language(request, language)
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response
