"""Awaiting many jobs at once, in completion order, without a task or a future per job.

``Client.as_completed`` awaits 100,000 jobs in one process: a task (and its coroutine frames)
per job would cost more memory than everything else a job needs. Here each job is a callback
registered with :meth:`Registry.watch <fastwait.Registry.watch>` plus an entry in a set; the
outcomes land in one queue, which the iterator drains, and one timer stands for every job's
deadline (they all start together).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from fastwait.exceptions import FastwaitError
from fastwait.registry._registry import Registry
from fastwait.registry._store import JobKey, Resolution

__all__ = ["Completions"]

_LOOKUPS_PER_TURN = 500
"""Store look-ups between two yields to the event loop (an in-memory store never suspends)."""

Outcome = Resolution | BaseException


class Completions:
    """The outcomes of one batch of jobs of one provider, in the order they arrive.

    ``track(job_id)`` starts polling a job (and raises ``ConfigurationError`` for a malformed
    id), ``release(job_id)`` stops it. Iterate :meth:`outcomes` once; leaving it early stops
    waiting for the rest.
    """

    __slots__ = (
        "_arrived",
        "_broken",
        "_journaled",
        "_look_up",
        "_notify",
        "_pending",
        "_polls",
        "_provider",
        "_registry",
        "_release",
        "_timeout",
        "_track",
        "_tracked",
        "_wakeup",
    )

    def __init__(
        self,
        registry: Registry,
        provider: str,
        *,
        track: Callable[[str], None],
        release: Callable[[str], None],
        polls: Callable[[str], int],
        timeout: float | None,
        look_up: bool,
        journaled: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._registry = registry
        self._provider = provider
        self._track = track
        self._release = release
        self._polls = polls
        self._timeout = timeout
        self._look_up = look_up
        self._journaled = journaled
        """With a durable journal: awaited once every job is tracked, before any outcome is
        yielded, so a process killed right after passing on its first result has journaled
        every job it was given (a resumed run finds them all)."""
        self._pending: set[str] = set()
        self._tracked: set[str] = set()
        self._arrived: collections.deque[tuple[str, Outcome, float, int]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._broken: BaseException | None = None
        """What ended the task that starts the jobs early (e.g. the client closed): raised."""
        self._notify = self._on_outcome
        """The one callback every job is watched with: ``self._on_outcome`` makes a new bound
        method (64 bytes) each time it is read, and the registry keeps one per waiting job."""

    async def outcomes(
        self, job_ids: Sequence[str]
    ) -> AsyncGenerator[tuple[str, Outcome, float, int], None]:
        """``(job_id, outcome, seconds since the start, polls)`` for each job, as each ends.

        ``outcome`` is the job's :class:`Resolution` or the :class:`FastwaitError` that ended
        the wait (``WaitTimeout``, a typed API error, ``ConfigurationError`` for a malformed
        id or a store that cannot be read); any other error (a closed registry, a client
        closed while jobs were still being started) is raised.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        name, pending, arrived = self._provider, self._pending, self._arrived
        for job_id in job_ids:
            if job_id in pending:
                continue
            pending.add(job_id)
            self._registry.watch((name, job_id), self._notify)
        timer = None
        if self._timeout is not None:
            timer = loop.call_at(started + self._timeout, self._expire, started)
        starting = asyncio.create_task(self._start(job_ids), name="fastwait-as-completed")
        starting.add_done_callback(self._started)
        try:
            hold = self._journaled is not None
            while pending or arrived:
                if hold and starting.done():
                    hold = False
                if not arrived or hold:
                    if self._broken is not None:
                        raise self._broken
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                job_id, outcome, at, polls = arrived.popleft()
                if not isinstance(outcome, Resolution | FastwaitError):
                    raise outcome
                yield job_id, outcome, at - started, polls
        finally:
            if timer is not None:
                timer.cancel()
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            for job_id in pending:
                self._registry.unwatch((name, job_id), self._notify)
            for job_id in self._tracked:
                self._release(job_id)
            pending.clear()
            self._tracked.clear()

    async def _start(self, job_ids: Sequence[str]) -> None:
        """Deliver what the store already holds, and start polling the rest."""
        name, pending = self._provider, self._pending
        for n, job_id in enumerate(job_ids, 1):
            if job_id not in pending:
                continue  # ended already (a stored result, a timeout), or listed twice
            try:
                if self._look_up and await self._registry.look_up((name, job_id)):
                    continue
                self._track(job_id)
            except FastwaitError as error:  # a malformed id, a store that cannot be read
                if job_id in pending:
                    self._registry.unwatch((name, job_id), self._notify)
                    self._end(job_id, error)
            else:
                self._tracked.add(job_id)
            if n % _LOOKUPS_PER_TURN == 0:
                await asyncio.sleep(0)
        if self._journaled is not None:
            await self._journaled()

    def _started(self, starting: asyncio.Task[None]) -> None:
        """Any other failure to start the jobs leaves some with nobody to end them: raise it."""
        if not starting.cancelled() and starting.exception() is not None:
            self._broken = starting.exception()
        self._wakeup.set()  # outcomes held until every job was journaled may go now

    def _on_outcome(self, key: JobKey, outcome: Outcome) -> None:
        if key[1] in self._pending:
            self._end(key[1], outcome)

    def _end(self, job_id: str, outcome: Outcome) -> None:
        # The poll count is read now, while the poller still knows the job: a consumer may
        # come to this outcome only after thousands of others ended.
        polls = self._polls(job_id)
        self._pending.discard(job_id)
        if job_id in self._tracked:
            self._tracked.discard(job_id)
            self._release(job_id)
        self._arrived.append((job_id, outcome, asyncio.get_running_loop().time(), polls))
        self._wakeup.set()

    def _expire(self, started: float) -> None:
        """The deadline passed: every job still pending ends with :class:`WaitTimeout`."""
        assert self._timeout is not None
        for job_id in tuple(self._pending):
            key = (self._provider, job_id)
            timed_out = self._registry.timed_out(key, self._timeout)
            self._registry.unwatch(key, self._notify)
            self._end(job_id, timed_out)
