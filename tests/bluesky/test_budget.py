"""The shared write budget: slots spaced by the hourly budget, a full day moves to the next one."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import override_settings

from bluesky.budget import SAFETY, BudgetConfig, WriteBudget

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pacing-tests"}}


@pytest.fixture(autouse=True)
def _cache():
    with override_settings(CACHES=LOCMEM):
        cache.clear()
        yield
        cache.clear()


def test_slots_are_spaced_so_no_hour_exceeds_the_budget():
    config = BudgetConfig(points_per_hour=300, points_per_day=100_000, points_per_post=3)  # 100 posts/h
    budget = WriteBudget(account="a", config=config)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    slots = [budget.reserve(now=start) for _ in range(250)]
    assert slots[0] == start
    # In any window of one hour starting at a slot, at most 100 posts (300 points).
    for i, s in enumerate(slots):
        in_hour = sum(1 for t in slots[i:] if t < s + 3600)
        assert in_hour * 3 <= 300
    # ...and the budget is used (less the 2 % safety margin): 250 posts take ~2.5 hours, not more.
    assert slots[-1] - slots[0] == pytest.approx(249 * 36.0 / SAFETY)
    assert config.interval == pytest.approx(36.0 / SAFETY)


def test_accounts_have_separate_budgets():
    config = BudgetConfig(points_per_hour=300, points_per_day=100_000, points_per_post=3)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    a = WriteBudget(account="a", config=config)
    b = WriteBudget(account="b", config=config)
    assert a.reserve(now=now) == now
    assert b.reserve(now=now) == now
    assert a.reserve(now=now) == pytest.approx(now + 36.0 / SAFETY)


def test_full_day_moves_to_next_utc_day():
    config = BudgetConfig(points_per_hour=360_000, points_per_day=30, points_per_post=3)  # 10 posts/day
    budget = WriteBudget(account="d", config=config)
    now = datetime(2026, 1, 1, 23, 0, tzinfo=UTC).timestamp()
    slots = [budget.reserve(now=now) for _ in range(12)]
    next_day = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    assert all(s < next_day for s in slots[:10])
    assert slots[10] >= next_day and slots[11] > slots[10]


def test_push_back_after_429_delays_everyone_on_that_account():
    config = BudgetConfig(points_per_hour=5000, points_per_day=35000, points_per_post=3)
    budget = WriteBudget(account="r", config=config)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    budget.reserve(now=now)
    budget.push_back(until=now + 600)
    assert budget.reserve(now=now + 1) == now + 600
