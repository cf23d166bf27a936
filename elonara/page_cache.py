"""The cached parts of the event and community pages (elonara.event_page, elonara.community_page):
their keys, and the version that says whether a cached copy is still true. Imports no model, so the
models' querysets can call it.

A cached part is stored with the version current when its rows were read; a change renews the
version at once and again after its commit. A part built from rows read before the commit
therefore carries an old version and is never served, however late it is stored (deleting the copy
instead would let such a late store outlive the change).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

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
    """What the cached parts were made with: the site's address and the code and templates that
    build them. A deployment that changes any of them reads none of the old parts (their HTML,
    their pickled rows) and builds new ones."""
    apps = Path(__file__).resolve().parent.parent
    sources = [*sorted((apps / "templates" / "elonara").glob("*.html")),
               *(apps / name for name in ("elonara/models.py", "members/models.py", "elonara/event_page.py",
                                          "elonara/community_page.py", "elonara/ical.py", "elonara/cards.py"))]
    digest = hashlib.sha256(f"{settings.ELONARA_PUBLIC_URL}|{settings.MEDIA_URL}".encode())
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def page_version_key(kind: str, pk: int) -> str:
    return f"page-version:{kind}:{pk}"


def page_part_get(kind: str, pk: int, build: Callable[[], tuple[Part | None, int]], *, part: str = ""
                  ) -> Part | None:
    """The cached part when its version is current (one round trip), else `build()`: the part (None
    when the object does not exist) and how many seconds it stays true without a change. `part`
    names another part renewed with the same version (the community's calendar beside its page)."""
    key, version_key = page_key(kind, pk, part), page_version_key(kind, pk)
    found = cache.get_many([key, version_key])
    version, cached = found.get(version_key), found.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    if version is None:
        # First view since the version expired: whichever process adds it first sets it for all.
        cache.add(version_key, secrets.token_hex(8), PAGE_VERSION_SECONDS)
        version = cache.get(version_key)
    built, seconds = build()
    if built is not None and version is not None and seconds > 0:
        cache.set(key, (version, built), min(seconds, PAGE_CACHE_SECONDS))
    return built


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


def community_pages_changed(ids: Iterable[int | None]) -> None:
    pages_changed("community", ids)


# A member's private calendar feed (elonara.member_feed): events they host or answered going/maybe,
# here and in other apps.
MEMBER_CALENDAR = "member-calendar"


def member_calendars_changed(member_ids: Iterable[int | None]) -> None:
    pages_changed(MEMBER_CALENDAR, member_ids)


def _versions_renew(keys: list[str]) -> None:
    cache.set_many({key: secrets.token_hex(8) for key in keys}, PAGE_VERSION_SECONDS)
