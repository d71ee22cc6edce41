"""How the fake's jobs behave: durations, queueing, progress curves, noise and failures.

Real job services do not report progress that starts the moment a job is submitted and grows
in a straight line. Jobs wait in a queue at 0 %, their percent is noisy, runs in stages, starts
fast or slow, or stalls just before the end; some fail part-way through, and a few take far
longer than the rest. A :class:`JobModel` says all of that as one value, and
:meth:`JobModel.plan` draws one job's :class:`JobPlan` from it. Pure: the same
:class:`random.Random` state always draws the same plan.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from fastwait.exceptions import ConfigurationError

__all__ = [
    "ALL_CURVES",
    "Durations",
    "JobModel",
    "JobPlan",
    "LogNormalDurations",
    "ProgressCurve",
]

_STAGES: Final = 4
_STALL_AT: Final = 0.8
"""The share of the work at which a ``STALL`` job stops reporting progress ..."""
_STALL_FROM: Final = 0.6
"""... and the share of its running time at which it gets there."""


class ProgressCurve(enum.Enum):
    """How a job's reported share of work grows with its share of running time.

    ``STRAIGHT``: in proportion. ``FAST_START``: most of the work early (``1 - (1 - f)²``).
    ``SLOW_START``: most of it late (``f²``). ``STAGES``: in four coarse steps (0, 25, 50, 75 %,
    each reported until the next stage starts). ``STALL``: straight to 80 % at 60 % of the time,
    then stuck at 80 % until the job ends.
    """

    STRAIGHT = "straight"
    FAST_START = "fast-start"
    SLOW_START = "slow-start"
    STAGES = "stages"
    STALL = "stall"

    def work_done(self, fraction: float) -> float:
        """Share of the work done (0-1) when ``fraction`` (0-1) of the running time has passed."""
        f = min(1.0, max(0.0, fraction))
        if self is ProgressCurve.FAST_START:
            return 1.0 - (1.0 - f) ** 2
        if self is ProgressCurve.SLOW_START:
            return f * f
        if self is ProgressCurve.STAGES:
            return 1.0 if f >= 1.0 else math.floor(f * _STAGES) / _STAGES
        if self is ProgressCurve.STALL:
            return 1.0 if f >= 1.0 else min(_STALL_AT, f * _STALL_AT / _STALL_FROM)
        return f


ALL_CURVES: Final[tuple[ProgressCurve, ...]] = tuple(ProgressCurve)
"""Every curve: give it as ``JobModel(curves=ALL_CURVES)`` to draw one per job at random."""


def _check_positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{attribute.name} must be a number > 0, got {value!r}")


def _check_non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigurationError(f"{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class LogNormalDurations:
    """Heavy-tailed job durations, as real ones are: mostly near ``median``, a long right tail.

    ``sigma`` sets the tail (0.8: one job in 20 takes 3.7x the median or longer; 1.0: 5.2x).
    Call it with a :class:`random.Random` to draw one duration in seconds, clamped to
    ``[low, high]`` so a benchmark's slowest job stays bounded.
    """

    median: float = attrs.field(default=3.0, validator=_check_positive)
    sigma: float = attrs.field(default=0.8, validator=_check_non_negative)
    low: float = attrs.field(default=0.2, validator=_check_non_negative)
    high: float = attrs.field(default=20.0, validator=_check_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigurationError(f"low ({self.low}) must not exceed high ({self.high})")

    def __call__(self, rng: random.Random) -> float:
        drawn = rng.lognormvariate(math.log(self.median), self.sigma)
        return min(self.high, max(self.low, drawn))


Durations = Callable[[random.Random], float] | float
"""Seconds: a constant, or a callable drawing one duration from a :class:`random.Random`."""


def _check_durations(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if callable(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"durations must be seconds or a callable, got {value!r}")
    _check_non_negative(_, attribute, value)


def _check_share(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value < 1.0):
        raise ConfigurationError(f"{attribute.name} must be within [0, 1), got {value!r}")


def _check_rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ConfigurationError(f"{attribute.name} must be within [0, 1], got {value!r}")


def _to_curves(value: ProgressCurve | Iterable[ProgressCurve]) -> tuple[ProgressCurve, ...]:
    curves = (value,) if isinstance(value, ProgressCurve) else tuple(value)
    if not curves or not all(isinstance(curve, ProgressCurve) for curve in curves):
        raise ConfigurationError(f"curves must be one or more ProgressCurve, got {value!r}")
    return curves


def _to_window(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if not (0.0 < low <= high <= 1.0):
        raise ConfigurationError(f"failure_window must satisfy 0 < low <= high <= 1, got {value!r}")
    return float(low), float(high)


@attrs.frozen
class JobPlan:
    """One job's fate, drawn from a :class:`JobModel` (seconds from its submission).

    The job waits ``queued`` seconds at 0 %, then runs until ``planned_end`` following
    ``curve``; a failing job ends earlier, when ``fails_at`` (a share of its running time) has
    passed.
    """

    queued: float
    planned_end: float
    curve: ProgressCurve = ProgressCurve.STRAIGHT
    fails_at: float | None = None

    @property
    def ends(self) -> float:
        """When the job becomes terminal, succeeded or failed."""
        if self.fails_at is None:
            return self.planned_end
        return self.queued + self.fails_at * (self.planned_end - self.queued)


@attrs.frozen
class JobModel:
    """How the fake's jobs behave; settable per fake and per job.

    - ``durations``: each job's time from submission to its planned end, queue included.
    - ``queue_share``: the share of that time spent queued, reporting 0 % (``0.1``: a 4 s job
      waits 0.4 s); ``queue_time``: seconds queued on top of the duration.
    - ``curves``: how reported progress grows; with several, each job draws one at random.
    - ``progress_noise``: each reading is off by up to ± this many points (uniform).
    - ``failure_rate``: the share of jobs that fail; a failing job ends at a share of its running
      time drawn uniformly from ``failure_window`` (``(1, 1)``: at its planned end).

    ``JobModel()`` is the fake's default: 1 s jobs, no queue, straight progress, ±5 points.
    """

    durations: Durations = attrs.field(default=1.0, validator=_check_durations)
    queue_share: float = attrs.field(default=0.0, validator=_check_share)
    queue_time: float = attrs.field(default=0.0, validator=_check_non_negative)
    curves: tuple[ProgressCurve, ...] = attrs.field(
        default=(ProgressCurve.STRAIGHT,), converter=_to_curves
    )
    progress_noise: float = attrs.field(default=5.0, validator=_check_non_negative)
    failure_rate: float = attrs.field(default=0.0, validator=_check_rate)
    failure_window: tuple[float, float] = attrs.field(default=(1.0, 1.0), converter=_to_window)

    def plan(
        self,
        rng: random.Random,
        *,
        duration: float | None = None,
        fail: bool | None = None,
        queue_time: float | None = None,
        curve: ProgressCurve | None = None,
        fails_at: float | None = None,
    ) -> JobPlan:
        """Draw one job; any given argument replaces its draw (and consumes no randomness).

        Raises :class:`~fastwait.exceptions.ConfigurationError` for a negative ``duration`` or
        ``queue_time``, or a ``fails_at`` outside ``(0, 1]``.
        """
        if duration is None:
            durations = self.durations
            duration = durations(rng) if callable(durations) else durations
        if not (math.isfinite(duration) and duration >= 0):
            raise ConfigurationError(f"duration must be >= 0 seconds, got {duration!r}")
        if fail is None:
            fail = self.failure_rate > 0 and rng.random() < self.failure_rate
        if fails_at is not None and not 0.0 < fails_at <= 1.0:
            raise ConfigurationError(f"fails_at must be within (0, 1], got {fails_at!r}")
        if fail and fails_at is None:
            low, high = self.failure_window
            fails_at = high if low == high else rng.uniform(low, high)
        if curve is None:
            curves = self.curves
            curve = curves[0] if len(curves) == 1 else rng.choice(curves)
        waited = self.queue_time if queue_time is None else queue_time
        if not (math.isfinite(waited) and waited >= 0):
            raise ConfigurationError(f"queue_time must be >= 0 seconds, got {waited!r}")
        return JobPlan(
            queued=waited + self.queue_share * duration,
            planned_end=waited + duration,
            curve=curve,
            fails_at=fails_at if fail else None,
        )
