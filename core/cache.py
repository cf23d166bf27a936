"""The Redis cache backend, with one client object per connection pool.

Django's backend wraps its pool in a new `redis.Redis` client on every cache call; building one
costs about as much as the round trip to Redis itself, and a signed-in page makes several calls
(session, rate limits, cached fragments). A client holds no connection of its own (the pool hands
them out per command, and resets them after a fork), so one per pool serves every thread.
"""

from __future__ import annotations

import functools
import logging
import pickle
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer

logger = logging.getLogger(__name__)


def state_cache() -> Any:
    """The cache for state that must outlive an outage and is never left behind by a new
    generation (write budgets and their locks, the firehose's replay guard): the `state` alias, or
    the default cache where only one is configured (the fast tier's tests that swap CACHES)."""
    from django.conf import settings
    from django.core.cache import caches

    return caches["state" if "state" in settings.CACHES else "default"]


class CompressingSerializer(RedisSerializer):
    """Django's serializer (pickles; integers as they are, for INCR), with a pickle of
    `COMPRESS_FROM` bytes or more stored zlib-compressed at level 1 (fast): a kept page of about
    14 KB of HTML takes about a fifth of that in Redis. Values stored before are read as they are."""

    COMPRESS_FROM = 1024
    _MARK = b"z1:"  # neither a pickle (b"\x80") nor an integer starts so

    def dumps(self, obj: Any) -> Any:
        data = super().dumps(obj)
        if isinstance(data, bytes) and len(data) >= self.COMPRESS_FROM:
            return self._MARK + zlib.compress(data, 1)
        return data

    def loads(self, data: Any) -> Any:
        if isinstance(data, bytes) and data.startswith(self._MARK):
            return pickle.loads(zlib.decompress(data[len(self._MARK):]))  # noqa: S301 - our own cache's values
        return super().loads(data)


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own attributes, which its type stubs leave out.
        django: Any = self
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in django._pools:
                django._pools[index] = django._pool_class.from_url(django._servers[index], **django._pool_options)
            client = self._clients[index] = django._client(connection_pool=django._pools[index])
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def counters_add(self, keys: list[str], timeout: int) -> list[int]:
        """Add one to each counter, creating it at 0 with `timeout` when missing: one round trip
        (Django's add() then incr() is three per counter). Used by core.ratelimit."""
        django: Any = self  # Django's own attribute, which its type stubs leave out
        client = django._cache.get_client(write=True)
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            cache_key = self.make_and_validate_key(key)
            pipeline.set(cache_key, 0, ex=timeout, nx=True)
            pipeline.incr(cache_key)
        return [int(count) for count in pipeline.execute()[1::2]]


# --- Degrade, don't fail: the cache of pages, sessions and kept rows ---------------------------
# Errors that mean "Redis is not answering" (refused, reset, timed out, frozen), as redis-py raises
# them; anything else (a bad value, a bug) still raises.
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
GENERATION_KEY = "elonara:cache-generation"


def _soft(default: Callable[..., Any], *, writes: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: FailSoftRedisCache, *args: Any, **kwargs: Any) -> Any:
            if not self._usable():
                self._lost(writes=writes)
                return default(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                self._trip(exc, writes=writes)
                return default(*args, **kwargs)
        return call
    return decorate


def _default_of_get(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return kwargs.get("default", default)


class _Health:
    """One process's view of one Redis: closed until (monotonic), writes owed, the generation."""

    def __init__(self) -> None:
        self.closed_until = 0.0
        self.owed = False
        self.generation = "0"
        self.read_at = float("-inf")
        self.lock = threading.Lock()


_HEALTH: dict[str, _Health] = {}
_HEALTH_LOCK = threading.Lock()


def _health_of(name: str) -> _Health:
    with _HEALTH_LOCK:
        return _HEALTH.setdefault(name, _Health())


class FailSoftRedisCache(ReusingRedisCache):
    """The Redis cache for what the database can always rebuild (kept pages and their parts,
    sessions written through to the database, the kept member rows, rate-limit counts): when Redis
    does not answer within its timeouts, reads are misses and writes are dropped, so pages render
    from the database (slower, still true) and sessions load from it.

    Two things keep that true:
    - A circuit breaker: after a failure, this process leaves Redis alone for
      `CACHE_RETRY_SECONDS` (one request pays the timeout, not every call of every request).
    - Dropped writes are owed: a renewed page version or a deleted session that never reached Redis
      would let an old copy be served once it answers again. Every key carries the cache's
      generation; a process that dropped a write renews the generation as soon as Redis answers
      again, before anything else, and every process reads the generation at least once a second.
      So after an outage every copy made before it is left behind (a cold cache, never a stale one).
      The budgets and locks that must survive an outage live in the `state` cache, outside this.

    Rate limits go on counting in this process while Redis is away (a limit per process rather than
    none)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        # Our own options; the rest go to redis-py's connection pool (its timeouts among them).
        options = dict(params.get("OPTIONS", {}))
        self._retry_seconds = float(options.pop("retry_seconds", 2.0))
        self._generation_seconds = float(options.pop("generation_seconds", 1.0))
        super().__init__(server, {**params, "OPTIONS": options})
        # Django makes a cache object per thread; what Redis's health and generation are is the
        # process's knowledge, shared by all of them.
        self._health = _health_of(str(params.get("KEY_PREFIX", "")) + "|" + server)
        self._local_counts = LocMemCache("elonara-ratelimit-fallback", {"MAX_ENTRIES": 10_000})

    # The keys: the generation first, so a new generation leaves every older copy behind.
    def make_key(self, key: Any, version: int | None = None) -> str:
        return super().make_key(f"g{self._health.generation}:{key}", version)

    def _client(self) -> Any:
        django: Any = self  # Django's own attribute, which its type stubs leave out
        return django._cache.get_client(write=True)

    def _usable(self) -> bool:
        """Whether to talk to Redis now; first settles what an earlier outage owes and reads the
        generation when it is older than a second."""
        health, now = self._health, time.monotonic()
        if now < health.closed_until:
            return False
        if not health.owed and now - health.read_at < self._generation_seconds:
            return True
        with health.lock:
            try:
                client = self._client()
                if health.owed:
                    health.generation = str(client.incr(GENERATION_KEY))
                    health.owed = False
                    logger.warning("cache answers again: copies made before the outage are left behind",
                                   extra={"generation": health.generation})
                else:
                    health.generation = (client.get(GENERATION_KEY) or b"0").decode()
                health.read_at = time.monotonic()
            except UNREACHABLE as exc:
                self._trip(exc, writes=False)
                return False
        return True

    def _trip(self, exc: BaseException, *, writes: bool) -> None:
        if time.monotonic() >= self._health.closed_until:
            logger.warning("cache unreachable: serving from the database",
                           extra={"failure": type(exc).__name__, "retry_in_seconds": self._retry_seconds})
        self._health.closed_until = time.monotonic() + self._retry_seconds
        self._lost(writes=writes)

    def _lost(self, *, writes: bool) -> None:
        if writes:
            self._health.owed = True

    get = _soft(_default_of_get, writes=False)(ReusingRedisCache.get)
    get_many = _soft(lambda *a, **k: {}, writes=False)(ReusingRedisCache.get_many)
    has_key = _soft(lambda *a, **k: False, writes=False)(ReusingRedisCache.has_key)
    # A get_or_set that cannot read or store: build the value every time.
    set = _soft(lambda *a, **k: None, writes=True)(ReusingRedisCache.set)
    add = _soft(lambda *a, **k: False, writes=True)(ReusingRedisCache.add)
    touch = _soft(lambda *a, **k: False, writes=True)(ReusingRedisCache.touch)
    delete = _soft(lambda *a, **k: False, writes=True)(ReusingRedisCache.delete)
    delete_many = _soft(lambda *a, **k: None, writes=True)(ReusingRedisCache.delete_many)
    set_many = _soft(lambda mapping, *a, **k: list(mapping), writes=True)(ReusingRedisCache.set_many)
    incr = _soft(lambda *a, **k: 0, writes=True)(ReusingRedisCache.incr)
    decr = _soft(lambda *a, **k: 0, writes=True)(ReusingRedisCache.decr)
    clear = _soft(lambda *a, **k: None, writes=True)(ReusingRedisCache.clear)

    def counters_add(self, keys: list[str], timeout: int) -> list[int]:
        if self._usable():
            try:
                return super().counters_add(keys, timeout)
            except UNREACHABLE as exc:
                self._trip(exc, writes=False)
        counts = []
        for key in keys:
            self._local_counts.add(key, 0, timeout)
            counts.append(self._local_counts.incr(key))
        return counts
