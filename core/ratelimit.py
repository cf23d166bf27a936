"""Rate limits shared by every process (the Django cache: Redis in production).

A limit counts attempts in fixed windows under several keys at once (the member and the client's
address), so neither a member with many addresses nor an address with many accounts gets past it.
Limits are settings (`RATE_LIMITS`), so operators can tune them without code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import ngettext

from core.client_address import client_address
from core.errors import ApplicationError


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    per_seconds: int

    @classmethod
    def named(cls, name: str) -> Limit:
        count, per_seconds = settings.RATE_LIMITS[name]
        return cls(name=name, count=count, per_seconds=per_seconds)


class RateLimitedError(ApplicationError):
    """Too many attempts; `retry_after` is when the window ends (`retry_after_seconds` from now)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, *, limit: Limit, retry_after: int) -> None:
        self.limit = limit
        minutes = max(1, math.ceil(retry_after / 60))
        self.minutes = minutes
        super().__init__(ngettext("Too many attempts. Please try again in %(minutes)d minute.",
                                  "Too many attempts. Please try again in %(minutes)d minutes.", minutes)
                         % {"minutes": minutes},
                         retryable=True, retry_after=datetime.now(UTC) + timedelta(seconds=retry_after),
                         limit_name=limit.name)


def rate_limit_keys(request: HttpRequest) -> list[str]:
    # The client behind our trusted proxies (core.client_address), never the proxy itself.
    keys = [f"ip:{client_address(request)}"]
    if request.user.is_authenticated:
        keys.append(f"member:{request.user.pk}")
    return keys


def rate_limit_hit(*, limit: Limit, keys: list[str], now: float | None = None) -> list[str]:
    """Count one attempt under each key; raise `RateLimitedError` if any key is over its limit.
    Returns the counters it added to (for `rate_limit_release`)."""
    now = time.time() if now is None else now
    window = int(now // limit.per_seconds)
    retry_after = int((window + 1) * limit.per_seconds - now) + 1
    counters = [f"rl:{limit.name}:{key}:{window}" for key in keys]
    counts = _counters_add(counters, limit.per_seconds + 60)
    if any(count > limit.count for count in counts):
        raise RateLimitedError(limit=limit, retry_after=retry_after)
    return counters


def rate_limit_release(counters: list[str]) -> None:
    """Take back one attempt counted by `rate_limit_hit` (it turned out not to count, such as a
    password login that succeeded). Counting first and releasing after is what keeps parallel
    attempts from all passing a check made before any of them was counted."""
    for counter in counters:
        try:
            cache.decr(counter)
        except ValueError:  # its window ended meanwhile
            pass


def _counters_add(cache_keys: list[str], timeout: int) -> list[int]:
    # Redis (core.cache) counts every key in one round trip; other caches one key at a time.
    counters_add = getattr(cache, "counters_add", None)
    if counters_add is not None:
        return counters_add(cache_keys, timeout)
    counts = []
    for cache_key in cache_keys:
        cache.add(cache_key, 0, timeout)
        try:
            counts.append(cache.incr(cache_key))
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout)
            counts.append(1)
    return counts


def rate_limit_request(request: HttpRequest, name: str) -> None:
    """`rate_limit_hit` for a request: keyed by the client's address and, when signed in, the member."""
    rate_limit_hit(limit=Limit.named(name), keys=rate_limit_keys(request))
