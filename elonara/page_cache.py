"""The event page's cached part (elonara.event_page): its keys, and the version that says whether a
cached copy is still true. Imports no model, so the models' querysets can call it.

A cached page is stored with the version current when its rows were read; a change renews the
version after its commit. A page built from rows read just before a commit therefore carries the
old version and is never served, however late it is stored (deleting the copy instead would let
such a late store outlive the change).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from functools import partial

from django.core.cache import cache
from django.db import transaction

# How long a page and its version are kept: only a bound on memory, never on truth.
EVENT_PAGE_CACHE_SECONDS = 3600
EVENT_PAGE_VERSION_SECONDS = 24 * 3600


def event_page_key(event_id: int) -> str:
    return f"event:page:{event_id}"


def event_page_version_key(event_id: int) -> str:
    return f"event:page-version:{event_id}"


def event_page_version_new() -> str:
    return secrets.token_hex(8)


def event_pages_changed(event_ids: Iterable[int | None]) -> None:
    """Call inside the write's transaction (or after it): those events' pages are rebuilt once the
    change is visible."""
    keys = sorted({event_page_version_key(pk) for pk in event_ids if pk})
    if keys:
        # At once (a copy cached before is not served again, and a page read inside this
        # transaction shows the change), and after the commit (a copy built meanwhile from the rows
        # of before the commit is not served either).
        _versions_renew(keys)
        transaction.on_commit(partial(_versions_renew, keys))


def _versions_renew(keys: list[str]) -> None:
    cache.set_many({key: event_page_version_new() for key in keys}, EVENT_PAGE_VERSION_SECONDS)
