"""A small thread-safe time-to-live cache for identity and metadata answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Answers younger than `ttl` are served by default; a caller may accept older ones (up to
    `keep`, how long entries are kept at all) or demand younger ones with `max_age`."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = 10_000,
                 keep: float | None = None) -> None:
        self.ttl, self.clock, self.max_entries = ttl, clock, max_entries
        self.keep = max(ttl, keep or ttl)
        self._data: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, max_age: float | None = None) -> V | None:
        limit = self.ttl if max_age is None else min(max_age, self.keep)
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            age = self.clock() - hit[0]
            if age >= self.keep:
                del self._data[key]
                return None
            return hit[1] if age < limit else None

    def put(self, key: str, value: V) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:  # bounded: start over rather than grow without limit
                self._data.clear()
            self._data[key] = (self.clock(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
