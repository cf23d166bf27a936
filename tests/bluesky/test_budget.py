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


def test_a_slot_found_in_the_past_is_re_paced_never_spent_beside_another_write():
    config = BudgetConfig(points_per_hour=3600 * 3, points_per_day=10**9, points_per_post=3)  # 1 post/s
    budget = WriteBudget(account="late", config=config)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    slots = [budget.reserve(now=start) for _ in range(5)]
    # A worker died; the five messages come back 30 s later, a few milliseconds apart.
    back = start + 30
    decisions = [budget.turn(now=back + i * 0.01, slot_at=slot) for i, slot in enumerate(slots)]
    assert decisions[0] is None  # the first writes (nothing was written for a whole gap)
    later = decisions[1:]
    assert all(d is not None for d in later)
    # Each of the others got a fresh slot, one gap or more after the write before it.
    assert later[0] >= back + config.gap
    assert all(b - a >= config.interval - 1e-6 for a, b in zip(later, later[1:], strict=False))
    # When they come, each writes in its turn.
    assert [budget.turn(now=d, slot_at=d) for d in later] == [None] * 4


def test_writes_of_one_account_are_never_closer_than_the_gap_however_they_arrive():
    import random

    config = BudgetConfig(points_per_hour=3600 * 3, points_per_day=10**9, points_per_post=3)
    budget = WriteBudget(account="mixed", config=config)
    rng = random.Random(7)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    pending = [budget.reserve(now=now) for _ in range(20)]  # first dispatch
    pending += [now - 5.0] * 10  # redelivered after a kill: slots long past
    writes = []
    clock = now
    while pending:
        clock += rng.uniform(0.0, 0.4)  # messages arrive late, early, bunched
        slot = pending.pop(rng.randrange(len(pending)))
        if slot > clock:
            pending.append(slot)
            continue
        decision = budget.turn(now=clock, slot_at=slot)
        if decision is None:
            writes.append(clock)
        else:
            pending.append(decision)
    writes.sort()
    assert len(writes) == 30
    assert min(b - a for a, b in zip(writes, writes[1:], strict=False)) >= config.gap
    assert max(sum(1 for t in writes if s <= t < s + 60) for s in writes) <= 60 / config.gap + 1


def test_a_write_re_paced_on_a_full_day_stays_on_its_day():
    # Six posts a day, nine asked for: three slots go to tomorrow. A write of today whose slot came
    # a little too soon after the write before it waits for the pace, today; it was never counted
    # in tomorrow's budget, so it must not take one of tomorrow's slots.
    config = BudgetConfig(points_per_hour=3600 * 3, points_per_day=6 * 3, points_per_post=3)  # 1 post/s
    budget = WriteBudget(account="full-day", config=config)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    midnight = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    slots = [budget.reserve(now=start) for _ in range(9)]
    assert all(s < midnight for s in slots[:6]) and all(s >= midnight for s in slots[6:])
    assert budget.turn(now=slots[0], slot_at=slots[0]) is None
    assert budget.turn(now=slots[1] + 0.3, slot_at=slots[1]) is None  # a worker late for its slot
    later = budget.turn(now=slots[2], slot_at=slots[2])
    assert later is not None and slots[1] + 0.3 + config.gap <= later < midnight
    # Tomorrow's queue is untouched: a reservation made tomorrow comes after the three given ahead.
    assert budget.reserve(now=midnight + 0.5) >= slots[8] + config.interval - 1e-6

