"""The default result store: process memory, bounded by age and count."""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

from fastwait.exceptions import ConfigurationError
from fastwait.registry._store import JobKey, Resolution

__all__ = ["MemoryResultStore"]


class MemoryResultStore:
    """Results in a dict bounded by age (``ttl`` seconds) and size (``max_results``).

    Eviction is oldest first, so a service that resolves millions of jobs over days keeps only
    the recent ones; a waiter that comes later than ``ttl`` polls the API again instead.
    """

    __slots__ = ("_clock", "_max_results", "_next_eviction", "_results", "_ttl")

    def __init__(
        self,
        *,
        ttl: float = 600.0,
        max_results: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError("result ttl must be positive")
        if max_results < 1:
            raise ConfigurationError("max_results must be at least 1")
        self._ttl = ttl
        self._max_results = max_results
        self._clock = clock
        self._results: collections.OrderedDict[JobKey, tuple[float, Resolution]] = (
            collections.OrderedDict()
        )
        self._next_eviction = -math.inf

    def __len__(self) -> int:
        return len(self._results)

    def _evict(self, now: float) -> None:
        """Drop the results older than ``ttl``; :meth:`put_first` keeps the count bounded.

        Looks only once the oldest result can have expired (results expire in the order they
        were stored), so a put costs one comparison, not an iteration.
        """
        if now < self._next_eviction:
            return
        deadline = now - self._ttl
        results = self._results
        while results:
            key, (stored_at, _) = next(iter(results.items()))
            if stored_at > deadline:
                self._next_eviction = stored_at + self._ttl
                return
            del results[key]
        self._next_eviction = now + self._ttl  # empty: nothing stored later expires sooner

    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        return self.put_first_now(key, resolution)

    def put_first_now(self, key: JobKey, resolution: Resolution) -> Resolution:
        """:meth:`put_first` without a coroutine: process memory never makes anyone wait."""
        now = self._clock()
        self._evict(now)
        results = self._results
        stored = results.get(key)
        if stored is not None:
            return stored[1]
        results[key] = (now, resolution)
        if len(results) > self._max_results:
            results.popitem(last=False)
        return resolution

    async def get(self, key: JobKey) -> Resolution | None:
        self._evict(self._clock())
        stored = self._results.get(key)
        return None if stored is None else stored[1]

    def listen(self, deliver: Callable[[JobKey, Resolution], None]) -> None:
        """Nothing else writes to process memory, so there is nothing to announce."""

    async def aclose(self) -> None:
        self._results.clear()
