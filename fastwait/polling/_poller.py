"""The adaptive poller: one scheduler task over the due times of every tracked job.

Thousands of jobs cost a heap entry each, not a sleeping task each: the scheduler sleeps until
the earliest due time, then starts a status request for every due job, at most
``max_in_flight`` at once. What to do with each answer is decided by the pure
:func:`fastwait.polling._schedule.next_poll_at`; this module only carries it out:

* a terminal status is published to the registry and the job is dropped; if the result store
  cannot take it for now (Redis unreachable, a SQLite file locked), the status is kept and
  only the store write is retried, with the same backoff, while the error is recorded for the
  job's waiters and an outage of the store is said like one of the API;
* a non-terminal one is published as progress and the job rescheduled (``Retry-After`` honored);
* a transient error (timeout, reset, 429, 5xx, truncated body, a status naming another job:
  :func:`~fastwait.providers._validation.require_status_of`) reschedules with the ``backoff``
  library's exponential wait generator and full jitter; a job is never failed for one, but it
  is recorded for the job's waiters (``WaitTimeout.last_error``), and when every poll has
  failed for a second (the API or the result store cannot be reached) it is said on the log at
  WARNING, then at most every 30 s while it lasts;
* a permanent error (401, 403, 404, ...) fails the job's waiters with the typed error at once;
* a job resolved by any other source (a webhook) is dropped before its next poll.

Every job it sees end (and every job a webhook resolves while it tracks it) goes into its
:class:`~fastwait.polling._learning.PollHistory`, which the schedule reads for the next jobs.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import attrs

from fastwait._models import JobState, JobStatus
from fastwait._notices import RateLimitedNotice
from fastwait._retry_delays import retry_delays
from fastwait.events import PollFailed, PollSent, emit
from fastwait.exceptions import ConfigurationError, FastwaitError, TransportError
from fastwait.polling._learning import PollHistory
from fastwait.polling._outage import Outage
from fastwait.polling._schedule import (
    JobKnowledge,
    PollPolicy,
    honor_retry_after,
    next_poll_at,
)
from fastwait.providers._validation import require_status_of
from fastwait.registry._registry import Registry
from fastwait.registry._store import JobJournal, JobKey, PollLease, Resolution

__all__ = ["FetchStatus", "PollStats", "Poller"]

log = logging.getLogger("fastwait.poller")

FetchStatus = Callable[[str], Awaitable[tuple[JobStatus, float | None]]]
"""Fetch one job's status: ``(status, retry_after seconds or None)``; raises FastwaitError."""

_RECENT_STATS = 10_000
"""Finished jobs whose :class:`PollStats` are kept for :meth:`Poller.stats` (as_completed reads
them as each job ends; a table of 100,000 cost ~190 bytes per job in the scale benchmark)."""
_TIMER_SLACK = 0.002
"""Seconds by which a poll may start early, so that due times a hair apart share one wakeup."""


@attrs.define
class PollStats:
    """What polling one job cost and found (clock times on the poller's monotonic clock)."""

    tracked_at: float
    polls: int = 0
    transient_errors: int = 0
    first_terminal_at: float | None = None
    """When a poll first saw the job terminal (None if another source resolved it first)."""


class _Tracked:
    __slots__ = (
        "error_waits",
        "job_id",
        "knowledge",
        "looked",
        "refs",
        "seq",
        "stats",
        "unfinished_at",
        "unstored",
    )

    def __init__(self, job_id: str, knowledge: JobKnowledge, stats: PollStats) -> None:
        self.job_id = job_id
        self.knowledge = knowledge
        self.stats = stats
        self.refs = 0
        self.seq = 0
        self.looked = False
        """Whether the shared store was looked at (lease and stored result) since tracking."""
        self.error_waits: Iterator[float] | None = None
        self.unfinished_at = stats.tracked_at
        """Since when a job found ended may have waited to be seen: the sent time of the last
        non-terminal poll, at first when tracking began (not its submission: a job awaited an
        hour after it ended waited for nobody's poll that hour)."""
        self.unstored: tuple[JobStatus, float] | None = None
        """The terminal status (and its lag) that the result store could not take yet."""


class Poller:
    """Polls every tracked job of one provider until it resolves, feeding ``registry``.

    Start it with ``async with`` (or :meth:`start`) and stop it with :meth:`aclose`, which
    cancels and awaits the scheduler and every request in flight. ``history`` is what it learns
    from the jobs it sees end (its own by default; share one between pollers of one provider).
    """

    def __init__(
        self,
        provider: str,
        fetch: FetchStatus,
        registry: Registry,
        *,
        reports_progress: bool,
        policy: PollPolicy | None = None,
        max_in_flight: int = 32,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        history: PollHistory | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ConfigurationError("max_in_flight must be at least 1")
        self._provider = provider
        self._fetch = fetch
        self._registry = registry
        self._reports_progress = reports_progress
        self._policy = policy or PollPolicy()
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._rng = rng or random.Random()
        self._history = history if history is not None else PollHistory()
        self._tracked: dict[str, _Tracked] = {}
        self._recent: collections.OrderedDict[str, PollStats] = collections.OrderedDict()
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        """The polls in flight: at most ``max_in_flight``, a slot held by the scheduler itself."""
        self._closed = False
        store = registry.store
        self._journal = store if isinstance(store, JobJournal) else None
        self._lease = store if isinstance(store, PollLease) else None
        self._on_event = registry.on_event
        self._unlisten = registry.on_resolved(self._on_resolved)
        self._unlisten_lease = (
            self._lease.on_lease_lapsed(self._look_again) if self._lease is not None else None
        )
        self._api_outage = Outage()
        self._api_notice = RateLimitedNotice(log)
        self._store_outage = Outage()
        self._store_notice = RateLimitedNotice(log)

    @property
    def policy(self) -> PollPolicy:
        return self._policy

    @property
    def history(self) -> PollHistory:
        """What this poller learned from the jobs it saw end."""
        return self._history

    def _next_poll_at(
        self, knowledge: JobKnowledge, now: float, retry_after: float | None = None
    ) -> float:
        experience = self._history.experience(knowledge.input_bytes)
        return next_poll_at(
            knowledge, self._policy, now, self._rng, retry_after=retry_after, experience=experience
        )

    def now(self) -> float:
        """The poller's clock (the event loop's monotonic time unless one was injected)."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def wall_time(self, at: float) -> float:
        """Unix time of the poller-clock instant ``at`` (journals outlive the process)."""
        return time.time() + (at - self.now())

    def clock_time(self, wall: float) -> float:
        """The poller-clock instant of Unix time ``wall``."""
        return self.now() + (wall - time.time())

    @property
    def lease_seconds(self) -> float:
        """How long a poll lease lasts: past the longest delay between two polls of a job."""
        return self._policy.ceiling * 1.5 + 1.0

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler task (idempotent); :meth:`track` calls it on first use."""
        if self._closed:
            raise RuntimeError("poller is closed")
        if self._scheduler is None:
            self._scheduler = asyncio.create_task(
                self._run(), name=f"fastwait-poller-{self._provider}"
            )

    async def aclose(self) -> None:
        """Stop polling: cancel and await the scheduler and every request in flight."""
        self._closed = True
        self._unlisten()
        if self._unlisten_lease is not None:
            self._unlisten_lease()
        tasks = [*self._requests, *([self._scheduler] if self._scheduler else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tracked.clear()
        self._heap.clear()

    async def __aenter__(self) -> Poller:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- tracking -------------------------------------------------------------------------
    def track(
        self,
        job_id: str,
        *,
        submitted_at: float | None = None,
        queue_estimate: float | None = None,
        webhook_expected: bool = False,
        input_bytes: int | None = None,
    ) -> None:
        """Poll ``job_id`` until it resolves or every :meth:`track` is matched by :meth:`release`.

        ``submitted_at`` is the job's creation on the poller's clock (default: now);
        ``queue_estimate`` the API's queue wait estimate in seconds; ``input_bytes`` the size
        of its input, if known (the schedule learns durations per size).
        """
        self.start()
        tracked = self._tracked.get(job_id)
        if tracked is None:
            now = self.now()
            knowledge = JobKnowledge(
                submitted_at=min(submitted_at, now) if submitted_at is not None else now,
                queue_estimate=queue_estimate,
                reports_progress=self._reports_progress,
                webhook_expected=webhook_expected,
                input_bytes=input_bytes,
            )
            tracked = _Tracked(job_id, knowledge, PollStats(tracked_at=now))
            self._tracked[job_id] = tracked
            if self._journal is not None:
                self._journal.job_tracked(
                    (self._provider, job_id),
                    submitted_at=self.wall_time(knowledge.submitted_at),
                    webhook_expected=webhook_expected,
                )
            if self._lease is not None:
                # Look at the shared store at once: the lease, or a result stored already (the
                # same round trip is the waiter's store lookup).
                self._schedule(tracked, now)
            else:
                self._schedule(tracked, self._next_poll_at(knowledge, now))
        tracked.refs += 1

    def release(self, job_id: str) -> None:
        """Undo one :meth:`track`; polling stops when nobody needs the job any more."""
        tracked = self._tracked.get(job_id)
        if tracked is not None:
            tracked.refs -= 1
            if tracked.refs <= 0:
                self._drop(tracked)

    def is_tracked(self, job_id: str) -> bool:
        return job_id in self._tracked

    def __len__(self) -> int:
        return len(self._tracked)

    def stats(self, job_id: str) -> PollStats | None:
        """Polls and timings of a tracked or recently finished job."""
        tracked = self._tracked.get(job_id)
        return tracked.stats if tracked is not None else self._recent.get(job_id)

    def _drop(self, tracked: _Tracked) -> None:
        if self._tracked.get(tracked.job_id) is tracked:
            del self._tracked[tracked.job_id]
            self._recent[tracked.job_id] = tracked.stats
            if len(self._recent) > _RECENT_STATS:
                self._recent.popitem(last=False)
            if self._lease is not None:
                self._lease.release_poll_lease((self._provider, tracked.job_id))

    def _on_resolved(self, key: JobKey, resolution: Resolution) -> None:
        provider, job_id = key
        if provider == self._provider:
            tracked = self._tracked.get(job_id)
            if tracked is not None:
                if resolution.source != "poll":
                    # When it was stored, not now: a shared store hands over results stored
                    # long ago (at the first look, after a reconnect). Another host's clock
                    # may run ahead: never later than now.
                    knowledge = tracked.knowledge
                    self._history.job_resolved_elsewhere(
                        submitted_at=knowledge.submitted_at,
                        ended_at=min(self.now(), self.clock_time(resolution.resolved_at)),
                        input_bytes=knowledge.input_bytes,
                    )
                self._drop(tracked)

    def _look_again(self, keys: list[JobKey]) -> None:
        """Leases held elsewhere on ``keys`` lapsed early: look at once, maybe take over."""
        now = self.now()
        for provider, job_id in keys:
            tracked = self._tracked.get(job_id) if provider == self._provider else None
            if tracked is not None:
                self._schedule(tracked, now)

    def _schedule(self, tracked: _Tracked, due: float) -> None:
        self._seq += 1
        tracked.seq = self._seq
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (due, self._seq, tracked.job_id))
        if earliest is None or due < earliest:
            self._wakeup.set()

    # --- the scheduler --------------------------------------------------------------------
    async def _run(self) -> None:
        heap = self._heap
        wakeup = self._wakeup
        loop = asyncio.get_running_loop()
        requests = self._requests
        slot_freed = self._slot_freed
        timer: asyncio.TimerHandle | None = None
        try:
            while True:
                if not heap:
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                due, seq, job_id = heap[0]
                tracked = self._tracked.get(job_id)
                if tracked is None or tracked.seq != seq:
                    heapq.heappop(heap)
                    continue
                delay = due - self.now()
                if delay > _TIMER_SLACK:
                    # A timer that sets the event, not asyncio.timeout(): no exception is
                    # raised and caught for every due time, which costs more than the poll.
                    wakeup.clear()
                    if timer is not None:
                        timer.cancel()
                    timer = loop.call_later(delay, wakeup.set)
                    await wakeup.wait()
                    continue
                heapq.heappop(heap)
                while len(requests) >= self._max_in_flight:
                    slot_freed.clear()
                    await slot_freed.wait()
                if self._tracked.get(job_id) is not tracked:
                    continue
                task = loop.create_task(self._poll(tracked))
                requests.add(task)
                task.add_done_callback(self._poll_finished)
        finally:
            if timer is not None:
                timer.cancel()

    def _poll_finished(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        self._slot_freed.set()

    async def _poll(self, tracked: _Tracked) -> None:
        try:
            await self._poll_once(tracked)
        except Exception as error:  # nobody awaits this task: a failure must not end it unsaid
            log.exception("unexpected error polling %s job %s", self._provider, tracked.job_id)
            self._retry_later(tracked, error)

    async def _poll_once(self, tracked: _Tracked) -> None:
        if tracked.unstored is not None:
            await self._publish_end(tracked, *tracked.unstored)  # the API said it already
            return
        key = (self._provider, tracked.job_id)
        fetching = False
        try:
            if self._lease is not None:
                wait = await self._lease.acquire_poll_lease(key, self.lease_seconds)
                self._store_answered()
                if self._tracked.get(tracked.job_id) is not tracked:
                    return  # the look found the job resolved
                if wait is not None:
                    # Another replica polls this job; its result reaches us through the store,
                    # and the store says so if its lease lapses early.
                    self._schedule(tracked, self.now() + wait)
                    return
                if not tracked.looked:
                    tracked.looked = True
                    now = self.now()
                    due = self._next_poll_at(tracked.knowledge, now)
                    if due > now:
                        self._schedule(tracked, due)
                        return
            fetching = True
            tracked.stats.polls += 1
            sent_at = self.now()
            if self._on_event is not None:
                emit(self._on_event, PollSent(self._provider, tracked.job_id, tracked.stats.polls))
            status, retry_after = await self._fetch(tracked.job_id)
            require_status_of(status, self._provider, tracked.job_id)
        except FastwaitError as error:
            if self._on_event is not None:
                emit(self._on_event, PollFailed(*key, error, error.transient))
            if not error.transient:
                self._drop(tracked)
                if self._journal is not None:
                    self._journal.job_abandoned(key)
                self._registry.fail(key, error)
                return
            self._registry.record_error(key, error)
            self._failing(error, fetching=fetching)
            self._retry_later(tracked, error)
            return
        except Exception as error:  # a bug must not kill the scheduler: log, retry later
            log.exception("unexpected error polling %s job %s", *key)
            if self._on_event is not None:
                emit(self._on_event, PollFailed(*key, error, transient=True))
            self._retry_later(tracked, error)
            return
        now = self.now()
        if self._api_outage.succeeded():
            self._api_notice.over("the %s API answers again", self._provider)
        tracked.error_waits = None
        if status.is_terminal:
            if tracked.stats.first_terminal_at is None:
                tracked.stats.first_terminal_at = now
                self._learn_end(tracked.knowledge, now)
            await self._publish_end(tracked, status, now - tracked.unfinished_at)
            return
        tracked.unfinished_at = sent_at
        knowledge = tracked.knowledge.observed(
            now, status.progress_percent, queued=status.state is JobState.QUEUED
        )
        if knowledge.input_bytes is None:
            size = status.metrics.get("input_bytes")
            if isinstance(size, int) and not isinstance(size, bool):
                knowledge = attrs.evolve(knowledge, input_bytes=size)
        tracked.knowledge = knowledge
        await self._registry.publish(status, source="poll")
        if self._tracked.get(tracked.job_id) is tracked:
            due = self._next_poll_at(tracked.knowledge, now, retry_after)
            self._schedule(tracked, due)
            if self._journal is not None:
                self._journal.job_polled(key, state=status.state, next_poll_at=self.wall_time(due))

    async def _publish_end(self, tracked: _Tracked, status: JobStatus, lag: float) -> None:
        """Hand a terminal status to the registry, keeping it while the store cannot take it."""
        key = (self._provider, tracked.job_id)
        try:
            await self._registry.publish(status, source="poll", lag=lag)
        except FastwaitError as error:
            if error.transient:
                # The store could not take the result (e.g. Redis down): keep it and try the
                # store again, or the job's waiters would never hear of it.
                tracked.unstored = (status, lag)
                self._registry.record_error(key, error)
                self._failing(error, fetching=False)
                self._retry_later(tracked, error)
                return
            # It never will (disk full, a value it cannot encode): the waiters still get it.
            await self._registry.resolve_in_memory(status, error, source="poll", lag=lag)
        else:
            self._store_answered()
        self._drop(tracked)

    def _learn_end(self, knowledge: JobKnowledge, seen_at: float) -> None:
        """Teach the history a job first seen terminal at ``seen_at``."""
        self._history.job_finished(
            submitted_at=knowledge.submitted_at,
            ended_after=(
                knowledge.last_poll_at
                if knowledge.last_poll_at is not None
                else knowledge.submitted_at
            ),
            ended_by=seen_at,
            origin=knowledge.started_after,
            readings=knowledge.observations,
            input_bytes=knowledge.input_bytes,
        )

    def _failing(self, error: FastwaitError, *, fetching: bool) -> None:
        """Say an outage of the API (``fetching``) or of the result store, rate-limited."""
        outage, notice = (
            (self._api_outage, self._api_notice)
            if fetching
            else (self._store_outage, self._store_notice)
        )
        lasted = outage.failed(self.now())
        if lasted is None:
            return
        if not fetching:
            what = "cannot reach the result store"
        elif isinstance(error, TransportError):
            what = f"cannot reach the {self._provider} API"
        else:
            what = f"every poll of the {self._provider} API fails"
        waiting = len(self)
        notice.say(
            "%s (for %.0f s, %d job%s waiting): %s",
            what,
            lasted,
            waiting,
            "" if waiting == 1 else "s",
            error,
        )

    def _store_answered(self) -> None:
        if self._store_outage.succeeded():
            self._store_notice.over("the result store answers again")

    def _retry_later(self, tracked: _Tracked, error: BaseException) -> None:
        tracked.stats.transient_errors += 1
        if self._tracked.get(tracked.job_id) is not tracked:
            return
        if tracked.error_waits is None:
            tracked.error_waits = retry_delays(
                first=max(self._policy.floor, 0.5), longest=self._policy.ceiling
            )
        delay = max(next(tracked.error_waits), self._policy.floor)
        retry_after: Any = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            delay = honor_retry_after(delay, float(retry_after), self._policy)
        log.debug(
            "transient error polling %s job %s: %s; retry in %.2fs",
            self._provider,
            tracked.job_id,
            error,
            delay,
        )
        self._schedule(tracked, self.now() + delay)
