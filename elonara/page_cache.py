"""The cached parts of the event and community pages (elonara.event_page, elonara.community_page):
their keys, and the version that says whether a cached copy is still true. Imports no model, so the
models' querysets can call it.

A cached part is stored with the version current when its rows were read; a change renews the
version at once and again after its commit. A part built from rows read before the commit
therefore carries an old version and is never served, however late it is stored (deleting the copy
instead would let such a late store outlive the change).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

# How long a part and its version are kept at most: a bound on memory, not on truth.
PAGE_CACHE_SECONDS = 3600
PAGE_VERSION_SECONDS = 24 * 3600

Part = TypeVar("Part")


def page_key(kind: str, pk: int) -> str:
    return f"page:{kind}:{pk}"


def page_version_key(kind: str, pk: int) -> str:
    return f"page-version:{kind}:{pk}"


def page_part_get(kind: str, pk: int, build: Callable[[], tuple[Part | None, int]]) -> Part | None:
    """The cached part when its version is current (one round trip), else `build()`: the part (None
    when the object does not exist) and how many seconds it stays true without a change."""
    key, version_key = page_key(kind, pk), page_version_key(kind, pk)
    found = cache.get_many([key, version_key])
    version, cached = found.get(version_key), found.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    if version is None:
        # First view since the version expired: whichever process adds it first sets it for all.
        cache.add(version_key, secrets.token_hex(8), PAGE_VERSION_SECONDS)
        version = cache.get(version_key)
    part, seconds = build()
    if part is not None and version is not None and seconds > 0:
        cache.set(key, (version, part), min(seconds, PAGE_CACHE_SECONDS))
    return part


def pages_changed(kind: str, ids: Iterable[int | None]) -> None:
    """Call inside the write's transaction (or after it): those pages are rebuilt with the change."""
    keys = sorted({page_version_key(kind, pk) for pk in ids if pk})
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


def _versions_renew(keys: list[str]) -> None:
    cache.set_many({key: secrets.token_hex(8) for key in keys}, PAGE_VERSION_SECONDS)
