"""The fake's job model and its clock math: pure, no I/O.

A job never runs anything. It is created with the clock times at which it starts and completes,
and every answer about it (status, progress, whether its output expired) is computed from the
clock when asked. That is what lets one process hold 10,000 concurrent jobs without a task or a
timer per job.
"""

from __future__ import annotations

import enum
import math
import random
import uuid
from typing import Any, Final, Literal

import attrs

__all__ = [
    "PROVIDERS",
    "FakeJob",
    "JobPhase",
    "LogNormalDurations",
    "ProviderName",
    "guid7_hex",
    "output_expired",
    "phase_at",
    "random_uuid4",
    "running_fraction",
    "terminal_time",
]

ProviderName = Literal["compress", "convert", "compressorapp", "media"]
PROVIDERS: Final[tuple[ProviderName, ...]] = ("compress", "convert", "compressorapp", "media")


class JobPhase(enum.Enum):
    """Where a fake job is; each API names these phases in its own words."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self not in (JobPhase.QUEUED, JobPhase.RUNNING)


@attrs.define(eq=False)
class FakeJob:
    """One job held by a :class:`~fastwait.testing.FakeProvider`.

    Times (``submitted_at``, ``started_at``, ``completes_at``, ``canceled_at``,
    ``terminal_seen_at``) are in the fake's clock; ``created_wall`` is the wall-clock (Unix
    seconds) creation time that ids and timestamps in payloads are made from. Tests read the
    bookkeeping fields: ``requests`` counts every request that named the job (status, download,
    cancel, delete, compare, output url), faulted ones included; ``terminal_seen_at`` is when a
    status response first showed a terminal state.
    """

    provider: ProviderName
    id: str
    submitted_at: float
    started_at: float
    completes_at: float
    final_state: Literal["succeeded", "failed"]
    file_name: str
    input_bytes: int
    created_wall: float
    target_format: str | None = None
    outputs: int = 1
    output_file_name: str | None = None
    owner: str | None = None
    callback_url: str | None = None
    preset: str | None = None
    canceled: bool = False
    canceled_at: float | None = None
    deleted: bool = False
    expired: bool = False
    corrupted: bool = False
    requests: int = 0
    terminal_seen_at: float | None = None
    terminal_fields: dict[str, Any] | None = None
    """Top-level fields laid over the job's terminal status payload (see ``create_job``)."""

    def phase_at(self, now: float) -> JobPhase:
        """The job's phase at clock time ``now``."""
        return phase_at(self, now)


def phase_at(job: FakeJob, now: float) -> JobPhase:
    """The phase of ``job`` at clock time ``now``: cancellation wins over the planned outcome."""
    if job.canceled_at is not None and job.canceled_at <= now:
        return JobPhase.CANCELED
    if now < job.started_at:
        return JobPhase.QUEUED
    if now < job.completes_at:
        return JobPhase.RUNNING
    return JobPhase(job.final_state)


def with_terminal_fields(job: FakeJob, now: float, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the job's ``terminal_fields`` laid over it once the job is terminal."""
    if job.terminal_fields and phase_at(job, now).is_terminal:
        return {**body, **job.terminal_fields}
    return body


def terminal_time(job: FakeJob) -> float:
    """When the job becomes terminal: its cancellation, else its planned completion."""
    return job.canceled_at if job.canceled_at is not None else job.completes_at


def running_fraction(job: FakeJob, now: float) -> float:
    """How far the work is at ``now``, 0.0 at start to 1.0 at completion (linear, clamped)."""
    span = job.completes_at - job.started_at
    if span <= 0:
        return 1.0 if now >= job.completes_at else 0.0
    return min(1.0, max(0.0, (now - job.started_at) / span))


def output_expired(job: FakeJob, now: float, ttl: float) -> bool:
    """Whether a succeeded job's artifacts are gone: forced by ``expire()`` or ``ttl`` passed."""
    return job.expired or now >= job.completes_at + ttl


def guid7_hex(unix_ms: int, rng: random.Random) -> str:
    """A GUIDv7 as tools.fast writes it: 32 lowercase hex digits, no dashes.

    The first 48 bits are ``unix_ms``, then the version nibble 7, 12 random bits, the RFC 4122
    variant bits ``10`` and 62 random bits, so ids sort by creation time like the real ones.
    """
    value = (
        (unix_ms & (1 << 48) - 1) << 80
        | 0x7 << 76
        | rng.getrandbits(12) << 64
        | 0b10 << 62
        | rng.getrandbits(62)
    )
    return f"{value:032x}"


def random_uuid4(rng: random.Random) -> str:
    """A dashed UUID4 (compressor.app and media job ids) drawn from ``rng``, so seeds repeat."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class LogNormalDurations:
    """Job durations that look like real ones: mostly near ``median``, with a long right tail.

    Call it with a :class:`random.Random` to draw one duration in seconds, clamped to
    ``[low, high]`` so a benchmark's slowest job stays bounded.
    """

    median: float = attrs.field(default=3.0, validator=_positive)
    sigma: float = attrs.field(default=0.8, validator=_non_negative)
    low: float = attrs.field(default=0.2, validator=_non_negative)
    high: float = attrs.field(default=20.0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")

    def __call__(self, rng: random.Random) -> float:
        drawn = rng.lognormvariate(math.log(self.median), self.sigma)
        return min(self.high, max(self.low, drawn))
