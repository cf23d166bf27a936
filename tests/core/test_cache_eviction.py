"""Each kind of state where its failure mode fits (issue 35): kept pages in a Redis that evicts
(maxmemory + allkeys-lru, CACHE_URL), the broker, locks and write budgets in one that never does
(REDIS_URL). Filling the page cache far past its limit evicts pages only: no queued task, lock or
budget slot is lost."""

from __future__ import annotations

import os

import pytest
import redis
from django.core.cache import caches

from bluesky.budget import BudgetConfig, WriteBudget, budget_cache
from tests.redis_server import private_redis

pytestmark = pytest.mark.services


@pytest.fixture
def two_redis(tmp_path, settings):
    cache_proc, cache_url = private_redis(tmp_path / "c", "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    state_proc, state_url = private_redis(tmp_path / "s", "--maxmemory-policy", "noeviction")
    settings.CACHES = {
        "default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": f"{cache_url}/0",
                    "OPTIONS": {"serializer": "core.cache.CompressingSerializer"}},
        "state": {"BACKEND": "core.cache.ReusingRedisCache", "LOCATION": f"{state_url}/0"},
    }
    try:
        yield cache_url, state_url
    finally:
        for proc in (cache_proc, state_proc):
            proc.terminate()
            proc.wait(timeout=10)


def test_a_full_page_cache_evicts_pages_and_nothing_else(two_redis):
    from config.celery import app

    cache_url, state_url = two_redis
    # A budget slot, a lock and a queued task, before the page cache fills.
    budget = WriteBudget(account="did:plc:evict", config=BudgetConfig(points_per_hour=3600, points_per_day=10**6,
                                                                        points_per_post=3))
    budget.reserve()
    slot = budget.reserve()
    budget_cache().add("lock:renewal:42", "holder", 600)
    broker = f"{state_url}/1"
    with app.connection_for_write(broker) as connection:
        app.send_task("notifications.dispatch_due", connection=connection)
    queued = redis.Redis.from_url(broker).llen("celery")
    assert queued == 1

    pages = caches["default"]
    for n in range(3000):  # ~12 MB of incompressible pages into a 4 MB cache
        pages.set(f"page:{n}", os.urandom(4096), 3600)

    evicted = redis.Redis.from_url(cache_url).info("stats")["evicted_keys"]
    print(f"page cache: {evicted} pages evicted")
    assert evicted > 0
    assert pages.get("page:2999") is not None  # the newest pages are kept
    assert redis.Redis.from_url(broker).llen("celery") == queued  # the task is still queued
    assert budget_cache().get("lock:renewal:42") == "holder"
    assert budget.reserve() > slot  # the budget still knows the slots it gave
