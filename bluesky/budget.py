"""Bluesky's per-account limits, shared by every worker through the Django cache: the write budget
that paces every write (invitation posts, event and RSVP records, deletions) and the guard on
createSession.

Bluesky charges createRecord BLUESKY_WRITE_POINTS_PER_POST points out of
BLUESKY_WRITE_POINTS_PER_HOUR per hour and BLUESKY_WRITE_POINTS_PER_DAY per day, per account.
Hourly: a virtual-scheduling (GCRA) reservation spaces posts evenly at 3600 * per_post / per_hour
seconds, so no sliding hour ever holds more than the budget and a long run uses all of it. Daily: a
counter per UTC day; a full day pushes the reservation to the next day, into that day's own queue
(its end kept apart: the running queue's end stays on the day it is on, where a write that must
be re-paced still belongs).

A reservation is a slot in time: the caller waits until its slot, then takes its turn (`turn`)
and posts, so N queued invitations cost at most 2N task runs instead of a thundering herd
re-checking. The pace is a property of the account, not of the message: the turn also keeps the
time of the account's last write, and a write whose slot is found in the past (a message
redelivered after a worker died, a catch-up after downtime, a worker busy past the slot) writes
only if the last write is at least one nominal gap ago; otherwise it is re-paced to a fresh slot,
never spent at once. So however late messages arrive, no two writes of one account are closer
than `BudgetConfig.gap`, and no 60 s window holds more than the configured pace.
The cache must be shared by all workers (Redis in production and in the services tests); the
lock is `cache.add`, atomic on Redis and on the database cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

from django.conf import settings
from django.core.cache import BaseCache

from core.cache import UNREACHABLE as _UNREACHABLE
from core.cache import state_cache
from core.errors import ApplicationError
from core.ratelimit import Limit, rate_limit_hit

T = TypeVar("T")

_LOCK_SECONDS = 5
# Plan for 98 % of the hourly budget: a worker that falls behind posts its overdue slots in a short
# catch-up burst, and this margin keeps even a fixed hour window holding such a burst under the limit.
SAFETY = 0.98
_STATE_SECONDS = 2 * 24 * 3600
# A slot this close is now (a countdown message runs a few milliseconds early or late).
_EARLY_TOLERANCE = 0.05


def budget_cache() -> BaseCache:
    """The cache the budgets live in (never left behind after an outage, see core.cache)."""
    return cast(BaseCache, state_cache())


class PacingBusy(ApplicationError):
    """The shared budget lock could not be taken in time (another worker holds it): try again shortly."""

    code = "pacing_busy"
    http_status = 503

    def __init__(self, *, account: str) -> None:
        self.account = account
        super().__init__("The write budget is busy; try again in a moment.", retryable=True)


@dataclass(frozen=True)
class BudgetConfig:
    points_per_hour: int
    points_per_day: int
    points_per_post: int

    @classmethod
    def from_settings(cls) -> BudgetConfig:
        return cls(
            points_per_hour=settings.BLUESKY_WRITE_POINTS_PER_HOUR,
            points_per_day=settings.BLUESKY_WRITE_POINTS_PER_DAY,
            points_per_post=settings.BLUESKY_WRITE_POINTS_PER_POST,
        )

    @classmethod
    def for_account(cls, account: str) -> BudgetConfig:
        """The budget of one posting account. The relay (`relay:<identifier>`) speaks for every host at
        once: its own, smaller post budget applies, and never more than Bluesky's write limits."""
        config = cls.from_settings()
        if not account.startswith("relay:"):
            return config
        per_post = config.points_per_post
        return cls(
            points_per_hour=min(config.points_per_hour, settings.INVITATIONS_RELAY_POSTS_PER_HOUR * per_post),
            points_per_day=min(config.points_per_day, settings.INVITATIONS_RELAY_POSTS_PER_DAY * per_post),
            points_per_post=per_post,
        )

    @property
    def interval(self) -> float:
        """The spacing of reserved slots (the hourly budget less the safety margin)."""
        return 3600.0 * self.points_per_post / max(self.points_per_hour * SAFETY, 1)

    @property
    def gap(self) -> float:
        """The nominal pace: the smallest time allowed between two writes of one account. Slots are
        `interval` apart; a write a little late beside one on time still keeps this gap."""
        return 3600.0 * self.points_per_post / max(self.points_per_hour, 1)


def pacing_enabled() -> bool:
    return bool(settings.INVITATIONS_PACING_ENABLED)


class WriteBudget:
    def __init__(self, *, account: str, config: BudgetConfig | None = None) -> None:
        self.account = account
        self.config = config or BudgetConfig.for_account(account)
        self._tat_key = f"wb:{account}:tat"
        self._lock_key = f"wb:{account}:lock"
        self._last_key = f"wb:{account}:last"

    def _day_key(self, when: float) -> str:
        return f"wb:{self.account}:day:{datetime.fromtimestamp(when, tz=UTC):%Y%m%d}"

    def _day_tat_key(self, when: float) -> str:
        """The end of the queue of slots given to that day ahead of time, when an earlier day was full."""
        return f"wb:{self.account}:tat:{datetime.fromtimestamp(when, tz=UTC):%Y%m%d}"

    def _queue_end(self, now: float) -> float:
        """The first free slot of the day `now` is on: after the running queue and after what was
        given to this day ahead of time."""
        found = budget_cache().get_many([self._tat_key, self._day_tat_key(now)])
        return max(float(found.get(self._tat_key) or 0.0), float(found.get(self._day_tat_key(now)) or 0.0), now)

    def _locked(self, fn: Callable[[], T]) -> T:
        """`fn` under the account's lock. The budget unreachable (Redis down) is busy too: the
        write waits and asks again, never writes unpaced."""
        deadline = time.monotonic() + 3.0
        try:
            while not budget_cache().add(self._lock_key, 1, _LOCK_SECONDS):
                if time.monotonic() > deadline:
                    raise PacingBusy(account=self.account)
                time.sleep(0.005)
            try:
                return fn()
            finally:
                budget_cache().delete(self._lock_key)
        except _UNREACHABLE as exc:
            raise PacingBusy(account=self.account) from exc

    def turn(self, *, now: float | None = None, slot_at: float | None = None) -> float | None:
        """Write now (None) or wait for the returned slot (epoch seconds), under the budget's lock.

        `slot_at`: the slot an earlier attempt of this write reserved (due now or past); None: a
        first attempt, which reserves one. A write proceeds only when the account's last write is at
        least `gap` ago, and its time becomes the last write; otherwise (a late slot next to another
        write) it gets a fresh slot after both its day's queue and that gap, without being charged to
        the day again."""
        now = time.time() if now is None else now

        def take() -> float | None:
            slot = self._reserve_locked(now) if slot_at is None else slot_at
            if slot - now > _EARLY_TOLERANCE:
                return slot
            last = budget_cache().get(self._last_key)
            if last is not None and now - float(last) < self.config.gap:
                # Charged to this day already: to the end of this day's queue, never to a slot a
                # later day's budget was counted for.
                later = max(self._queue_end(now), float(last) + self.config.gap)
                budget_cache().set(self._tat_key, later + self.config.interval, _STATE_SECONDS)
                return later
            budget_cache().set(self._last_key, now, _STATE_SECONDS)
            return None

        return self._locked(take)

    def reserve(self, *, now: float | None = None) -> float:
        """Take the next free slot for one post; returns its epoch time (<= now means: post now)."""
        now = time.time() if now is None else now
        return self._locked(lambda: self._reserve_locked(now))

    def _reserve_locked(self, now: float) -> float:
        cost = self.config.points_per_post
        slot = self._queue_end(now)
        ahead = False
        # A full day moves the slot into the next UTC day's own queue, as often as needed.
        for _ in range(30):
            day_key = self._day_key(slot)
            used = int(budget_cache().get(day_key) or 0)
            if used + cost <= self.config.points_per_day:
                break
            day = datetime.fromtimestamp(slot, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            next_day = (day + timedelta(days=1)).timestamp()
            slot = max(next_day, float(budget_cache().get(self._day_tat_key(next_day)) or 0.0))
            ahead = True
        budget_cache().set(day_key, used + cost, _STATE_SECONDS)
        # A slot given ahead to a later day ends that day's queue, not the running one.
        budget_cache().set(self._day_tat_key(slot) if ahead else self._tat_key, slot + self.config.interval,
                           _STATE_SECONDS)
        return slot

    def push_back(self, *, until: float) -> None:
        """After a 429: nobody posts for this account before `until` (RateLimit-Reset)."""

        def push() -> None:
            tat = float(budget_cache().get(self._tat_key) or 0.0)
            if until > tat:
                budget_cache().set(self._tat_key, until, _STATE_SECONDS)

        self._locked(push)


def create_session_guard(*, account_key: str) -> None:
    """Count one createSession for this account; raises `RateLimitedError` past our limits."""
    for name, count, seconds in (("create_session_5min", settings.BLUESKY_CREATE_SESSION_PER_5_MIN, 300),
                                 ("create_session_day", settings.BLUESKY_CREATE_SESSION_PER_DAY, 86400)):
        rate_limit_hit(limit=Limit(name=name, count=count, per_seconds=seconds), keys=[account_key])
