"""What the jobs this process saw finish teach about the next ones: pure, no I/O, no clock.

A long-running service polls thousands of jobs of the same few kinds, so its own history is the
best model of them. :class:`PollHistory` keeps, per provider (one history per poller):

* **durations** from submission to the end, overall and per input size (sizes in bands of a
  factor of 4), so a blind schedule (no progress) can aim at when such jobs usually end;
* **how the provider's percent maps to elapsed time**: for every running reading of a finished
  job, the pair ``(percent, share of the job's time elapsed at that reading)``, counted from the
  last time the job was seen queued (or at 0 %) if it was, else from its submission. A provider
  whose jobs queue first, start slow or stall at 80 % shows it in these pairs, and the
  schedule reads a reading through them instead of through a straight line.

The end of a polled job is only known to lie between its last running poll and its first
terminal one; the middle is recorded (for a job already done at its first poll, nothing but
"at most that long" is known, so its duration is recorded as 0: no history ever claims that jobs
cannot be quick). Each history holds at most ``capacity`` samples of each
kind (the newest), so memory stays bounded and old behaviour is forgotten.

The schedule reads an immutable :class:`Experience` snapshot, rebuilt only after enough new
samples arrived, so a decision costs a lookup, not a sort.
"""

from __future__ import annotations

import bisect
import collections
import math
import operator
from collections.abc import Iterable

import attrs

__all__ = ["Experience", "PollHistory"]

_SIZE_BAND_BASE = 4.0
_NEIGHBOURS = 25
"""Readings consulted to read one percent: enough for a 10 % quantile, few enough to be local."""
_PERCENT_WINDOW = 10.0
"""Readings further than this many points from the one being read say nothing about it."""
_MIN_DURATIONS = 25
_SHARE = operator.itemgetter(1)


@attrs.frozen
class Experience:
    """An immutable view of a :class:`PollHistory` for one job, as the schedule reads it.

    ``durations`` are sorted seconds from submission to the end; ``readings_from_sighting`` and
    ``readings_from_submission`` are ``(percent, elapsed share)`` pairs sorted by percent, for
    jobs whose progress was counted from a queued (or 0 %) sighting, and from submission.
    """

    durations: tuple[float, ...] = ()
    readings_from_sighting: tuple[tuple[float, float], ...] = ()
    readings_from_submission: tuple[tuple[float, float], ...] = ()

    def durations_beyond(self, age: float) -> tuple[float, ...]:
        """The learned durations longer than ``age``, sorted (empty when too few were learned)."""
        if len(self.durations) < _MIN_DURATIONS:
            return ()
        return self.durations[bisect.bisect_right(self.durations, age) :]

    def elapsed_shares(self, percent: float, *, from_sighting: bool) -> tuple[float, ...]:
        """Shares of their time that jobs reading ``percent`` had spent, by the nearest readings
        (ordered by percent; a tie in distance goes to the lower percent).

        Empty unless :data:`_NEIGHBOURS` learned readings lie within :data:`_PERCENT_WINDOW`
        points of ``percent``: an estimate from far-away readings would be a guess.
        """
        pairs = self.readings_from_sighting if from_sighting else self.readings_from_submission
        if len(pairs) < _NEIGHBOURS:
            return ()
        # The nearest readings of a sorted list are a run of it: binary-search the run's start
        # (a poll asks this once; walking outwards reading by reading cost 25 steps a poll).
        right = bisect.bisect_left(pairs, (percent, -math.inf))
        low, high = max(0, right - _NEIGHBOURS), min(right, len(pairs) - _NEIGHBOURS)
        while low < high:
            middle = (low + high) // 2
            if percent - pairs[middle][0] > pairs[middle + _NEIGHBOURS][0] - percent:
                low = middle + 1
            else:
                high = middle
        nearest = pairs[low : low + _NEIGHBOURS]
        if percent - nearest[0][0] > _PERCENT_WINDOW or nearest[-1][0] - percent > _PERCENT_WINDOW:
            return ()
        return tuple(map(_SHARE, nearest))


def size_band(input_bytes: int | None) -> int | None:
    """The band of an input size (factors of 4 from 1 KiB); None when unknown."""
    if input_bytes is None or input_bytes <= 0:
        return None
    return max(0, int(math.log(input_bytes / 1024.0, _SIZE_BAND_BASE)))


class PollHistory:
    """Durations and percent-to-time readings of the jobs one poller saw finish.

    Fed by the poller (:meth:`job_finished`, :meth:`job_resolved_elsewhere`) and read by the
    schedule through :meth:`experience`. Not thread-safe; one event loop owns it.
    """

    __slots__ = (
        "_built_size",
        "_built_with",
        "_by_size",
        "_capacity",
        "_changes",
        "_durations",
        "_from_sighting",
        "_from_submission",
        "_readings",
        "_snapshots",
    )

    def __init__(self, capacity: int = 400) -> None:
        if capacity < _NEIGHBOURS:
            raise ValueError(f"capacity must be at least {_NEIGHBOURS}")
        self._capacity = capacity
        self._durations: collections.deque[float] = collections.deque(maxlen=capacity)
        self._by_size: dict[int, collections.deque[float]] = {}
        self._from_sighting: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=capacity
        )
        self._from_submission: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=capacity
        )
        self._snapshots: dict[int | None, Experience] = {}
        self._readings: tuple[tuple[tuple[float, float], ...], ...] = ((), ())
        """Both kinds of readings, sorted when the snapshots were last rebuilt: every size band
        shares them."""
        self._changes = 0
        self._built_with = 0
        self._built_size = 0

    def __len__(self) -> int:
        """How many durations are remembered."""
        return len(self._durations)

    def job_finished(
        self,
        *,
        submitted_at: float,
        ended_after: float,
        ended_by: float,
        origin: float | None = None,
        readings: Iterable[tuple[float, float]] = (),
        input_bytes: int | None = None,
    ) -> None:
        """Learn from a job seen running until ``ended_after`` and terminal at ``ended_by``.

        ``readings`` are its running ``(time, percent)`` observations counted from ``origin``
        (the last time it was seen queued or at 0 %; None: from ``submitted_at``). Times are
        on one clock, any clock.
        """
        if not ended_by >= ended_after:
            return
        # Seen running, the end is bracketed: take the middle. Done at the first look, the job
        # may have taken no time at all, and only that is safe to remember.
        end = (ended_after + ended_by) / 2.0 if ended_after > submitted_at else ended_after
        self._record_duration(end - submitted_at, input_bytes)
        start = submitted_at if origin is None else origin
        span = end - start
        target = self._from_submission if origin is None else self._from_sighting
        if span > 0:
            for at, percent in readings:
                elapsed = at - start
                if 0 < elapsed <= span and 0 < percent < 100:
                    target.append((percent, elapsed / span))
                    self._changes += 1

    def job_resolved_elsewhere(
        self, *, submitted_at: float, ended_at: float, input_bytes: int | None = None
    ) -> None:
        """Learn the duration of a job whose end arrived by webhook at ``ended_at``."""
        self._record_duration(ended_at - submitted_at, input_bytes)

    def _record_duration(self, duration: float, input_bytes: int | None) -> None:
        if not (math.isfinite(duration) and duration >= 0):
            return
        self._durations.append(duration)
        band = size_band(input_bytes)
        if band is not None:
            sized = self._by_size.get(band)
            if sized is None:
                sized = self._by_size[band] = collections.deque(maxlen=self._capacity)
            sized.append(duration)
        self._changes += 1

    def experience(self, input_bytes: int | None = None) -> Experience:
        """What the schedule may assume of a job of ``input_bytes`` (its size band's durations
        once enough were seen, else every job's).

        Snapshots are rebuilt once an eighth of what they hold is new (at least one sample), so
        reading costs a dictionary lookup while the history is steady.
        """
        if self._changes - self._built_with >= max(1, self._built_size // 8):
            self._snapshots.clear()
            self._built_with = self._changes
            self._built_size = len(self._durations) + len(self._from_submission)
            self._readings = (
                tuple(sorted(self._from_sighting)),
                tuple(sorted(self._from_submission)),
            )
        band = size_band(input_bytes)
        sized = self._by_size.get(band) if band is not None else None
        if sized is None or len(sized) < _MIN_DURATIONS:
            band = None
        snapshot = self._snapshots.get(band)
        if snapshot is None:
            durations = self._durations if band is None else self._by_size[band]
            from_sighting, from_submission = self._readings
            snapshot = self._snapshots[band] = Experience(
                durations=tuple(sorted(durations)),
                readings_from_sighting=from_sighting,
                readings_from_submission=from_submission,
            )
        return snapshot
