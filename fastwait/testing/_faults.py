"""Injected failures: which job-naming request fails, and how.

:class:`Faults` only decides (:meth:`Faults.draw`); the HTTP layer (``_http.py``) carries the
decision out. Random knobs model a flaky network in benchmarks; :meth:`Faults.fail_next` gives
tests exact, deterministic failures.
"""

from __future__ import annotations

import collections
import random
from typing import Literal

import attrs

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal["status", "drop", "truncate"]


@attrs.frozen
class Fault:
    """One failure to inflict on one request.

    ``status``: answer ``status`` (with ``Retry-After`` when ``retry_after`` is set) in the API's
    own error envelope, without doing the work. ``drop``: close the connection without any
    response, without doing the work. ``truncate``: do the work, then send the response with its
    body cut short (full ``Content-Length`` or unterminated chunked encoding) and close.
    """

    kind: FaultKind = "status"
    status: int = 503
    retry_after: float | None = None


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value!r}")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.define(on_setattr=attrs.setters.validate)
class Faults:
    """Mutable failure knobs for requests that name a job (status, download, cancel, delete,
    compare, output url). Submissions and ``/_fake/`` routes are never faulted.

    Rates are probabilities per request, checked in the order error (503), rate limit (429 with
    ``Retry-After: retry_after``), drop, truncate; their sum should not exceed 1. ``delay`` seconds
    are added before every job-naming response, faulted or not. Queued :meth:`fail_next`
    failures are consumed first, one per request, whatever the rates. All off by default.
    """

    error_rate: float = attrs.field(default=0.0, validator=_rate)
    rate_limit_rate: float = attrs.field(default=0.0, validator=_rate)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    delay: float = attrs.field(default=0.0, validator=_non_negative)
    retry_after: float = attrs.field(default=1.0, validator=_non_negative)
    _queued: collections.deque[Fault] = attrs.field(
        factory=collections.deque, init=False, repr=False
    )

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        retry_after: float | None = None,
        kind: FaultKind = "status",
    ) -> None:
        """Make the next ``count`` job-naming requests fail as ``kind`` (see :class:`Fault`)."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if kind not in ("status", "drop", "truncate"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        self._queued.extend([Fault(kind, status, retry_after)] * count)

    @property
    def pending(self) -> int:
        """How many :meth:`fail_next` failures are still waiting for a request."""
        return len(self._queued)

    def clear(self) -> None:
        """Turn every fault off: rates and delay to zero, queued failures dropped."""
        self.error_rate = self.rate_limit_rate = self.drop_rate = self.truncate_rate = 0.0
        self.delay = 0.0
        self._queued.clear()

    def draw(self, rng: random.Random) -> Fault | None:
        """The failure for the next request, or None to answer it normally."""
        if self._queued:
            return self._queued.popleft()
        if not (self.error_rate or self.rate_limit_rate or self.drop_rate or self.truncate_rate):
            return None
        roll = rng.random()
        for rate, fault in (
            (self.error_rate, Fault("status", 503)),
            (self.rate_limit_rate, Fault("status", 429, self.retry_after)),
            (self.drop_rate, Fault("drop")),
            (self.truncate_rate, Fault("truncate")),
        ):
            if roll < rate:
                return fault
            roll -= rate
        return None
