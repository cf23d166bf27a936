"""Cached pages and parts of pages: their keys, and the versions that say whether a cached copy is
still true. Imports no model, so the models' querysets (PageRowsQuerySet) can call it from any app.

Two kinds of copy: a part every viewer sees alike (the event and community pages' rows and HTML,
calendar files: `page_part_get`), and a whole page as one viewer sees it (`page_response`), built
from those parts and the viewer's own state (their name in the header, their settings, ...).

A copy is stored with the versions current when its rows were read; a change renews the version
at once and again after its commit. A copy built from rows read before the commit therefore
carries an old version and is never served, however late it is stored (deleting the copy instead
would let such a late store outlive the change).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.translation import get_language

# How long a part and its version are kept at most: a bound on memory, not on truth.
PAGE_CACHE_SECONDS = 3600
PAGE_VERSION_SECONDS = 24 * 3600
# The API's lists of upcoming events: one version for all of them (under this one id), renewed by
# any change to an event.
EVENT_LISTS = "event-lists"
EVENT_LISTS_ID = 1
# An event that ends leaves the upcoming lists within this time (no change renews them then).
EVENT_LISTS_SECONDS = 60

Part = TypeVar("Part")


def page_key(kind: str, pk: int, part: str = "") -> str:
    return f"page:{_release()}:{kind}:{pk}:{part}"


@functools.cache
def _release() -> str:
    """What the cached copies were made with: the site's address, the code, the templates, the
    static files' names and the secret key. A deployment that changes any of them reads none of the
    old copies (their HTML, their pickled rows) and builds new ones; a new secret key also ends the
    sessions kept rows were checked against (members.middleware), as Django does."""
    root = Path(__file__).resolve().parent.parent
    apps = sorted({"config", "core", *(name for name in settings.INSTALLED_APPS if (root / name).is_dir())})
    sources = sorted(path for app in apps for path in (root / app).rglob("*.py") if "migrations" not in path.parts)
    sources += sorted((root / "templates").rglob("*.html"))
    sources += sorted((root / "locale").rglob("*.mo"))  # a new translation is a new release
    manifest = Path(settings.STATIC_ROOT or root / "staticfiles") / "staticfiles.json"
    digest = hashlib.sha256(f"{settings.ELONARA_PUBLIC_URL}|{settings.MEDIA_URL}|{settings.STATIC_URL}|"
                            f"{settings.SECRET_KEY}".encode())
    for source in [*sources, manifest]:
        if source.is_file():
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]



def page_part_key(kind: str, pk: int, part: str = "") -> str:
    """A kept part of a page: HTML in the request's language, so one copy per language (one version
    for all of them)."""
    return page_key(kind, pk, f"{part}@{get_language()}")


def page_version_key(kind: str, pk: int) -> str:
    return f"page-version:{kind}:{pk}"


def page_part_get(kind: str, pk: int, build: Callable[[], tuple[Part | None, int]], *, part: str = ""
                  ) -> Part | None:
    """The cached part when its version is current (one round trip), else `build()`: the part (None
    when the object does not exist) and how many seconds it stays true without a change. `part`
    names another part renewed with the same version (the community's calendar beside its page)."""
    key, version_key = page_part_key(kind, pk, part), page_version_key(kind, pk)
    found = cache.get_many([key, version_key])
    version, cached = found.get(version_key), found.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    (version,) = versions_current([version_key], found)
    built, seconds = build()
    if built is not None and version is not None and seconds > 0:
        cache.set(key, (version, built), min(seconds, PAGE_CACHE_SECONDS))
    return built


def versions_current(version_keys: list[str], found: Mapping[str, Any] | None = None) -> tuple[str | None, ...]:
    """The version under each key, from `found` (a read already made) or one read. A missing one
    (first use since it expired) is made: whichever process adds it first sets it for all. Read
    them before the rows a copy is built from. None only when the cache keeps nothing."""
    if found is None:
        found = cache.get_many(version_keys)
    versions = tuple(found.get(key) for key in version_keys)
    if None in versions:
        for version_key, version in zip(version_keys, versions, strict=True):
            if version is None:
                cache.add(version_key, secrets.token_hex(8), PAGE_VERSION_SECONDS)
        found = cache.get_many(version_keys)
        versions = tuple(found.get(key) for key in version_keys)
    return versions


def pages_changed(kind: str, ids: Iterable[int | None]) -> None:
    """Call inside the write's transaction (or after it): those pages are rebuilt with the change."""
    pages_changed_many({kind: ids})


def pages_changed_many(changes: Mapping[str, Iterable[int | None]]) -> None:
    """`pages_changed` for several kinds of page at once: one write to the cache, one after commit."""
    keys = sorted({page_version_key(kind, pk) for kind, ids in changes.items() for pk in ids if pk})
    if keys:
        # At once (a copy cached before is not served again, and a page read inside this
        # transaction shows the change), and after the commit (a copy built meanwhile from the rows
        # of before the commit is not served either).
        _versions_renew(keys)
        transaction.on_commit(partial(_versions_renew, keys))


def event_pages_changed(ids: Iterable[int | None]) -> None:
    pages_changed("event", ids)


# A member's private calendar feed (pages.member_feed): events they host or answered going/maybe,
# here and in other apps.
MEMBER_CALENDAR = "member-calendar"


def member_calendars_changed(member_ids: Iterable[int | None]) -> None:
    pages_changed(MEMBER_CALENDAR, member_ids)


def _versions_renew(keys: list[str]) -> None:
    cache.set_many({key: secrets.token_hex(8) for key in keys}, PAGE_VERSION_SECONDS)


# What a member sees of their own on any page (`page_response` adds it for a signed-in viewer): the
# header's name, their answers' panels' account state, their profile's settings cards. Renewed by
# changes to their row, Bluesky connection, app password, communities, feed, mail settings, tokens.
VIEWER = "viewer"
# The side of a member's home page (pages.home): their plans, communities and invitations.
MEMBER_HOME = "member-home"


def viewers_changed(member_ids: Iterable[int | None]) -> None:
    pages_changed(VIEWER, member_ids)


# --- Whole pages per viewer ---------------------------------------------------------------------

def page_response(request: HttpRequest, name: str, depends_on: Iterable[tuple[str, int | None]],
                  render: Callable[[dict[str, str]], tuple[HttpResponse, int]], *,
                  viewer_kinds: Iterable[str] = (), members_only: bool = False) -> HttpResponse:
    """The page `name` as this viewer saw it last, when nothing it `depends_on` (and, signed in, the
    viewer's own state) changed since: one cache round trip. Else `render(extra_context)`, which
    returns the response and how many seconds it stays true without a change (0: not kept).
    `viewer_kinds`: more versions it depends on, of the viewer's own (their home lists).
    `members_only`: visitors are sent to log in.

    The copy is kept per viewer (one for all visitors), with the CSRF token left out: each request
    gets its own session's token. Requests with a query string or with messages to show are
    rendered every time (what they show is not the page's alone)."""
    if not _page_response_cacheable(request):
        return _rendered(request, render, {}, members_only=members_only)[0]
    viewer = request.user.pk if request.user.is_authenticated else 0
    depends = dict.fromkeys([*[(kind, pk) for kind, pk in depends_on if pk is not None],
                             *([(kind, viewer) for kind in (VIEWER, *viewer_kinds)] if viewer else [])])
    key = page_key("response", viewer, f"{name}@{get_language()}")
    version_keys = [page_version_key(kind, pk) for kind, pk in depends]
    found = cache.get_many([key, *version_keys])
    versions = tuple(found.get(k) for k in version_keys)
    cached = found.get(key)
    if cached is not None and None not in versions and cached[0] == versions:
        return _csrf_filled(request, HttpResponse(cached[1]))
    versions = versions_current(version_keys, found)
    response, seconds = _rendered(request, render, {"csrf_token": _csrf_placeholder()}, members_only=members_only)
    if response.status_code == 200 and None not in versions and seconds > 0 and not response.has_header("Set-Cookie"):
        cache.set(key, (versions, response.content), min(seconds, PAGE_CACHE_SECONDS))
    return _csrf_filled(request, response)


def _rendered(request: HttpRequest, render: Callable[[dict[str, str]], tuple[HttpResponse, int]],
              extra_context: dict[str, str], *, members_only: bool) -> tuple[HttpResponse, int]:
    if members_only and not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login  # its module reads the user model

        return redirect_to_login(request.get_full_path()), 0
    return render(extra_context)


def _page_response_cacheable(request: HttpRequest) -> bool:
    # len() reads the pending messages without marking them shown.
    return request.method in ("GET", "HEAD") and not request.GET and not len(get_messages(request))


@functools.cache
def _csrf_placeholder() -> str:
    # Stands for the CSRF token in a kept copy; derived from the secret key, so no page text can
    # name it in advance.
    return "csrf-" + hmac.new(settings.SECRET_KEY.encode(), b"page-response-csrf", "sha256").hexdigest()[:32]


def _csrf_filled(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    placeholder = _csrf_placeholder().encode()
    if placeholder in response.content:
        response.content = response.content.replace(placeholder, get_token(request).encode())
    return response


# --- Writes that send no signal -------------------------------------------------------------------

class RowWrites(Protocol):
    """What the pages app (pages.table) does when rows of a model are written without a signal."""

    def updated(self, queryset: models.QuerySet, kwargs: dict[str, Any], update: Callable[..., int]) -> int: ...

    def created(self, objs: list[models.Model]) -> None: ...


# Model label -> its row of the pages' table, filled at start-up by the app that owns the table
# (core imports no app: the table is registered here, not read from here).
_row_writes: dict[str, RowWrites] = {}


def row_writes_register(label: str, writes: RowWrites) -> None:
    _row_writes[label] = writes


def _writes_of(model: type[models.Model]) -> RowWrites | None:
    # A proxy model (the admin's view of invitations) writes its concrete model's rows.
    return _row_writes.get((model._meta.concrete_model or model)._meta.label)


def rows_inserted(model: type[models.Model], objs: list[models.Model]) -> None:
    """Rows inserted by raw SQL (COPY), so with no signal nor queryset hook: renewed as a
    `bulk_create()` of `objs` would be (their fields naming pages; no primary keys needed)."""
    writes = _writes_of(model)
    if writes is not None:
        writes.created(objs)


class PageRowsQuerySet(models.QuerySet):
    """`update()` (and so `bulk_update()`) and `bulk_create()` send no signal: the pages showing the
    written rows are renewed by the model's row of the pages' table (pages.table), the same row its
    save and delete receivers are made from. Every model that table names uses this queryset."""

    def update(self, **kwargs):
        writes = _writes_of(self.model)
        if writes is None:
            return super().update(**kwargs)
        return writes.updated(self, kwargs, super().update)

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        writes = _writes_of(self.model)
        if writes is not None:
            writes.created(list(created))
        return created
