"""The fake's jobs and their clock math: pure, no I/O.

A job never runs anything. It is created with the clock times at which it starts and completes
(drawn from a :class:`~fastwait.testing.JobModel`), and every answer about it (status, progress,
whether its output expired) is computed from the clock when asked. That is what lets one process
hold 10,000 concurrent jobs without a task or a timer per job.
"""

from __future__ import annotations

import enum
import random
import uuid
from typing import Any, Final, Literal

import attrs

from fastwait.testing._job_models import ProgressCurve

__all__ = [
    "PROVIDERS",
    "FakeJob",
    "JobPhase",
    "ProviderName",
    "guid7_hex",
    "output_expired",
    "phase_at",
    "random_uuid4",
    "reported_percent",
    "terminal_time",
    "work_done",
]

BuiltInName = Literal["compress", "convert", "compressorapp", "media"]
PROVIDERS: Final[tuple[BuiltInName, ...]] = ("compress", "convert", "compressorapp", "media")
ProviderName = str
"""A built-in API's name or a declared spec's (``ApiSpec.name``)."""
_MASK64: Final = (1 << 64) - 1


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
    seconds) creation time that ids and timestamps in payloads are made from. Progress follows
    ``curve`` from ``started_at`` to ``planned_completion`` (later than ``completes_at`` for a
    job failing part-way), off by up to ±``progress_noise`` points per reading. Tests read the
    bookkeeping fields: ``requests`` counts every request that named the job (status, download,
    cancel, delete, compare, output url), faulted ones included, ``requested_at`` holds their
    arrival times and ``user_agents`` their distinct ``User-Agent`` headers in order of first
    appearance (which of several clients, each with a User-Agent of its own, asked about the
    job); ``terminal_seen_at`` is when a status response first showed a terminal state.
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
    curve: ProgressCurve = ProgressCurve.STRAIGHT
    planned_completion: float | None = None
    progress_noise: float = 0.0
    noise_key: int = 0
    """Seeds the noise of each reading, so a seed repeats the readings of a poll sequence."""
    readings: int = 0
    """How many noisy progress readings the job has given."""
    requests: int = 0
    requested_at: list[float] = attrs.Factory(list)
    user_agents: list[str] = attrs.Factory(list)
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


def work_done(job: FakeJob, now: float) -> float:
    """The job's share of work done at ``now`` (0.0-1.0) along its curve, without noise.

    A job failing part-way stops where it failed; a canceled one where it was canceled.
    """
    until = job.planned_completion if job.planned_completion is not None else job.completes_at
    at = min(now, terminal_time(job))
    span = until - job.started_at
    if span <= 0:
        return 1.0 if at >= until else 0.0
    return job.curve.work_done((at - job.started_at) / span)


def reported_percent(job: FakeJob, now: float, reading: int | None) -> float:
    """The percent the API reports for the job at ``now``, within [0, 99] until it succeeds.

    ``reading`` numbers the job's noisy readings (the same number always gets the same noise);
    None reports the curve without noise.
    """
    percent = work_done(job, now) * 100.0
    if reading is not None and job.progress_noise > 0:
        percent += job.progress_noise * (2.0 * _unit_noise(job.noise_key, reading) - 1.0)
    return min(99.0, max(0.0, percent))


def _unit_noise(key: int, reading: int) -> float:
    """A uniform draw in [0, 1) determined by ``(key, reading)`` (splitmix64, no state)."""
    z = (key + (reading + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


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
