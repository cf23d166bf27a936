"""A small thread-safe time-to-live cache for identity and metadata answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class TtlCache:
    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = 10_000) -> None:
        self.ttl, self.clock, self.max_entries = ttl, clock, max_entries
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > self.clock():
                return hit[1]
            self._data.pop(key, None)
            return None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:  # bounded: start over rather than grow without limit
                self._data.clear()
            self._data[key] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
