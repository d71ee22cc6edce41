"""Delays between the retries of a failing dependency: exponential, capped, fully jittered.

The poller (a failed poll, a result the store refused) and the Redis listener (a lost
subscription) retry alike, with the ``backoff`` library's generators, set up here once.
"""

from __future__ import annotations

from collections.abc import Iterator

import backoff

__all__ = ["retry_delays"]


def retry_delays(*, first: float, longest: float) -> Iterator[float]:
    """Endless delays in seconds: ``first``, doubling up to ``longest``, each drawn uniformly
    below that bound (full jitter, so that many retries started together spread out)."""
    bounds = backoff.expo(base=2, factor=first, max_value=longest)
    next(bounds)  # backoff's generators are primed with one next()
    for bound in bounds:
        yield backoff.full_jitter(bound)
