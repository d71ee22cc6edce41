"""Where terminal results live: the storage seam behind :class:`fastwait.Registry`.

The registry keeps the futures that waiters await in process memory; a :class:`ResultStore`
keeps the *results*. The in-memory store (:mod:`._memory`) is the embedded default; durable and
distributed stores implement the same protocol, so the first-terminal-wins rule and the
early-arrival buffer hold across restarts and replicas. A store may also be a
:class:`JobJournal` (it remembers awaited jobs, to resume them) or a :class:`PollLease` (it lets
one replica at a time poll a job).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from fastwait._models import JobState, JobStatus

__all__ = [
    "JobJournal",
    "JobKey",
    "PollLease",
    "Resolution",
    "ResultStore",
    "TrackedJob",
]

JobKey = tuple[str, str]
"""``(provider name, job id)``: the identity of a job across every source of results."""


@attrs.frozen
class Resolution:
    """A job's terminal status and how it arrived.

    ``source`` is ``"poll"`` or ``"webhook"``; ``resolved_at`` is wall-clock seconds.
    """

    status: JobStatus
    source: str
    resolved_at: float


class ResultStore(Protocol):
    """Storage of terminal results, keyed by :data:`JobKey`.

    ``put_first`` must be atomic: of two puts for one key, exactly one is stored, and both
    callers get that one back. ``listen`` registers the callback through which a store that
    other processes write to announces their results (the in-memory store never calls it).
    """

    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution: ...

    async def get(self, key: JobKey) -> Resolution | None: ...

    def listen(self, deliver: Callable[[JobKey, Resolution], None]) -> None: ...

    async def aclose(self) -> None: ...


@attrs.frozen
class TrackedJob:
    """A journaled job that was being awaited (times: wall clock).

    ``resolved`` is False for a job without a result yet, True for one whose result is stored
    but was never reported (see :meth:`JobJournal.unreported_jobs`).
    """

    provider: str
    job_id: str
    submitted_at: float | None
    next_poll_at: float | None = None
    last_state: JobState | None = None
    webhook_expected: bool = False
    resolved: bool = False


@runtime_checkable
class JobJournal(Protocol):
    """A store that also remembers which jobs are awaited, so a restart can resume them.

    The poller calls the ``job_*`` methods synchronously on its hot path: they must only queue
    the write (a durable store writes in the background). A job leaves the journal when the
    store receives its result (``put_first``) or when it is abandoned (a permanent error).

    At-least-once output: whoever passes results on (the CLI prints them) calls
    :meth:`job_reported` once it has, and after a crash :meth:`unreported_jobs` lists the
    unresolved jobs *and* those whose result was stored but never reported. A crash between
    storing and reporting costs a repeated report, never a lost one.
    """

    def job_tracked(
        self, key: JobKey, *, submitted_at: float | None, webhook_expected: bool
    ) -> None: ...

    def job_polled(self, key: JobKey, *, state: JobState, next_poll_at: float) -> None: ...

    def job_abandoned(self, key: JobKey) -> None: ...

    def job_reported(self, key: JobKey) -> None: ...

    async def flush(self) -> None:
        """Return once every ``job_*`` write queued so far is durable (or could not be: a
        store that cannot write says so itself, and waiting goes on without it)."""
        ...

    async def unresolved_jobs(self, provider: str) -> list[TrackedJob]: ...

    async def unreported_jobs(self, provider: str) -> list[TrackedJob]: ...


@runtime_checkable
class PollLease(Protocol):
    """A store shared by replicas that lets one of them at a time poll a job.

    ``acquire_poll_lease`` takes, confirms or renews this process's lease on ``key`` (lasting
    ``seconds`` unless renewed) and returns None when this process may poll now; otherwise the
    seconds after which the lease another replica holds can first lapse. A store that finds a
    result instead delivers it (through ``listen``'s callback) and also returns a delay.
    ``release_poll_lease`` gives a lease up when its job is no longer polled here unresolved.
    ``on_lease_lapsed(callback)`` has ``callback(keys)`` called when leases held elsewhere on
    ``keys`` lapse early (their holder died or released them); it returns the remover.
    """

    async def acquire_poll_lease(self, key: JobKey, seconds: float) -> float | None: ...

    def release_poll_lease(self, key: JobKey) -> None: ...

    def on_lease_lapsed(self, callback: Callable[[list[JobKey]], None]) -> Callable[[], None]: ...
