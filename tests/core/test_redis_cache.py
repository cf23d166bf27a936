"""The Redis cache backend (core.cache) against the suite's own Redis server: the cache API behaves
as Django's, and rate-limit counters are counted in one round trip with their expiry."""

from __future__ import annotations

import os
import threading

import pytest
from django.core.cache import caches

from core.cache import ReusingRedisCache
from core.ratelimit import Limit, RateLimitedError, rate_limit_hit

pytestmark = pytest.mark.services


@pytest.fixture
def redis_cache(settings):
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("the services tier runs with a Redis server")
    settings.CACHES = {"default": {"BACKEND": "core.cache.ReusingRedisCache", "LOCATION": url,
                                   "KEY_PREFIX": "test-redis-cache"}}
    cache = caches["default"]
    assert isinstance(cache, ReusingRedisCache)
    cache.clear()
    yield cache
    cache.clear()


def test_the_cache_api_behaves_as_djangos(redis_cache):
    redis_cache.set("a", {"x": 1}, 30)
    assert redis_cache.get("a") == {"x": 1}
    assert redis_cache.add("a", "other", 30) is False and redis_cache.add("b", 5, 30) is True
    assert redis_cache.incr("b") == 6
    redis_cache.set_many({"c": "three", "d": [4]}, 30)
    assert redis_cache.get_many(["a", "c", "d", "missing"]) == {"a": {"x": 1}, "c": "three", "d": [4]}
    redis_cache.delete_many(["a", "c"])
    assert redis_cache.get_many(["a", "c", "d"]) == {"d": [4]}


def test_threads_share_the_cache_safely(redis_cache):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                redis_cache.set(f"t{n}:{i}", i, 30)
                assert redis_cache.get(f"t{n}:{i}") == i
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_rate_limit_counters_count_every_key_and_expire(redis_cache):
    limit = Limit(name="probe", count=3, per_seconds=60)
    keys = ["ip:192.0.2.1", "member:7"]
    for _ in range(3):
        rate_limit_hit(limit=limit, keys=keys, now=1_000_000.0)
    with pytest.raises(RateLimitedError):
        rate_limit_hit(limit=limit, keys=keys, now=1_000_000.0)
    # Another member from the same address is refused too (the address is over), a fresh pair is not.
    with pytest.raises(RateLimitedError):
        rate_limit_hit(limit=limit, keys=["ip:192.0.2.1", "member:8"], now=1_000_000.0)
    rate_limit_hit(limit=limit, keys=["ip:192.0.2.2", "member:9"], now=1_000_000.0)
    window = int(1_000_000.0 // 60)
    assert redis_cache.get(f"rl:probe:member:7:{window}") == 4
    client = redis_cache._cache.get_client(write=True)
    ttl = client.ttl(redis_cache.make_and_validate_key(f"rl:probe:ip:192.0.2.1:{window}"))
    assert 0 < ttl <= 120


def test_large_values_are_kept_compressed_and_read_back_whole(settings):
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("the services tier runs with a Redis server")
    settings.CACHES = {"default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": url,
                                   "KEY_PREFIX": "test-compress",
                                   "OPTIONS": {"serializer": "core.cache.CompressingSerializer"}}}
    cache = caches["default"]
    page = ("<li class='card'><a href='/events/123/'>Board games night</a> <time>Sat 19:30</time></li>\n" * 160
            ).encode()
    cache.set("page", ("v1", page), 30)
    cache.set("count", 5, 30)
    assert cache.get("page") == ("v1", page)
    assert cache.incr("count") == 6  # integers stay integers (INCR)
    raw = cache._cache.get_client().get(cache.make_and_validate_key("page"))
    print(f"kept page: {len(page)} bytes of HTML, {len(raw)} bytes in Redis")
    assert len(raw) < len(page) / 3
    cache.delete_many(["page", "count"])
