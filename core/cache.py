"""The Redis cache backend, with one client object per connection pool.

Django's backend wraps its pool in a new `redis.Redis` client on every cache call; building one
costs about as much as the round trip to Redis itself, and a signed-in page makes several calls
(session, rate limits, cached fragments). A client holds no connection of its own (the pool hands
them out per command, and resets them after a fork), so one per pool serves every thread.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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
