"""One future-based registry of job results, fed by every source.

The poller and the webhook receiver both :meth:`Registry.publish` what they learn; callers
:meth:`Registry.wait` on a job key and never know (or care) which source answered. Promises:

* any number of waiters may await one key; cancelling or timing out one never disturbs the
  others (each awaits a future of its own, resolved directly when the result arrives, or is
  a callback registered with :meth:`Registry.watch`, which costs no task and no future);
* the first terminal status wins; a later duplicate is ignored and a *conflicting* one (another
  terminal state) is logged, never applied;
* a terminal status published before anyone waits is kept by the :class:`ResultStore` (bounded
  by age and count) so a late waiter returns at once;
* non-terminal statuses (progress) reach subscribers only;
* only keys with live waiters hold memory here; resolved keys leave at once;
* a result the store refuses for good (disk full, a value it cannot encode) still reaches this
  process's waiters: :meth:`Registry.resolve_in_memory` keeps it in memory and says once that
  results are not kept beyond the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

from fastwait._models import JobState, JobStatus
from fastwait._notices import RateLimitedNotice
from fastwait.events import EventHook, JobResolved, StatusSeen, emit
from fastwait.exceptions import ConfigurationError, FastwaitError, WaitTimeout
from fastwait.registry._memory import MemoryResultStore
from fastwait.registry._store import JobKey, Resolution, ResultStore

__all__ = ["Registry"]

log = logging.getLogger("fastwait.registry")

_TERMINAL_STATES = frozenset(state for state in JobState if state.is_terminal)

StatusCallback = Callable[[JobStatus], None]
ResolvedCallback = Callable[[JobKey, Resolution], None]
OutcomeCallback = Callable[[JobKey, "Resolution | BaseException"], None]
"""Told once how an awaited key ended: its resolution, or the error that failed its waiters."""


class _Waiting:
    """The waiters of one awaited key and what else is known meanwhile.

    A waiter is a future (one per :meth:`Registry.wait_resolution` call) or a callback
    (:meth:`Registry.watch`, for callers awaiting thousands of keys without a task each).
    """

    __slots__ = ("last_error", "last_status", "waiters")

    def __init__(self, first: asyncio.Future[Resolution] | OutcomeCallback) -> None:
        # Built holding its first waiter: a list appended to from empty reserves four slots.
        self.waiters: list[asyncio.Future[Resolution] | OutcomeCallback] = [first]
        self.last_status: JobStatus | None = None
        self.last_error: FastwaitError | None = None

    def resolve(self, key: JobKey, resolution: Resolution) -> None:
        for waiter in self.waiters:
            if isinstance(waiter, asyncio.Future):
                if not waiter.done():  # a cancelled waiter's future is done already
                    waiter.set_result(resolution)
            else:
                _tell(waiter, key, resolution)

    def fail(self, key: JobKey, error: BaseException) -> None:
        for waiter in self.waiters:
            if isinstance(waiter, asyncio.Future):
                if not waiter.done():
                    waiter.set_exception(error)
                    # Marked as retrieved: a waiter that leaves before awaiting its future
                    # (while the store is looked up) never reads it, and asyncio would report it.
                    waiter.exception()
            else:
                _tell(waiter, key, error)


def _timed_out(key: JobKey, timeout: float, waiting: _Waiting | None) -> WaitTimeout:
    """The :class:`WaitTimeout` of a waiter of ``key``: the newest status and the last error a
    source met (also its cause) that ``waiting`` holds."""
    error = None if waiting is None else waiting.last_error
    status = None if waiting is None else waiting.last_status
    timed_out = WaitTimeout(key[0], key[1], timeout, status, error)
    timed_out.__cause__ = error
    return timed_out


def _tell(callback: OutcomeCallback, key: JobKey, outcome: Resolution | BaseException) -> None:
    try:
        callback(key, outcome)
    except Exception:
        log.exception("an outcome callback failed")


class Registry:
    """Results of jobs, awaited by key ``(provider name, job id)``.

    Where results are kept: ``store`` (any :class:`ResultStore`), or ``state="fastwait.db"``
    for a durable SQLite journal that survives restarts, or ``redis="redis://..."`` to share
    results and polling among replicas; by default in memory, ``result_ttl`` seconds and at
    most ``max_results`` of them. ``on_event`` receives what this registry's sources do (see
    :mod:`fastwait.events`). Use it from one event loop; :meth:`aclose` it when done.
    """

    def __init__(
        self,
        store: ResultStore | None = None,
        *,
        state: str | os.PathLike[str] | None = None,
        redis: str | None = None,
        result_ttl: float = 600.0,
        max_results: int = 100_000,
        clock: Callable[[], float] = time.time,
        on_event: EventHook | None = None,
    ) -> None:
        if sum(option is not None for option in (store, state, redis)) > 1:
            raise ConfigurationError("give at most one of store, state and redis")
        if state is not None:
            from fastwait.registry._sqlite import SQLiteResultStore

            store = SQLiteResultStore(state, ttl=result_ttl)
        elif redis is not None:
            from fastwait.registry._redis import RedisResultStore

            store = RedisResultStore(redis, ttl=result_ttl)
        self._store: ResultStore = (
            store
            if store is not None
            else MemoryResultStore(ttl=result_ttl, max_results=max_results)
        )
        # Process memory is written without a coroutine: a webhook's publish is its hot path.
        self._put_now = (
            self._store.put_first_now if type(self._store) is MemoryResultStore else None
        )
        self._clock = clock
        self._result_ttl = result_ttl
        self._max_results = max_results
        self._unstored: MemoryResultStore | None = None
        # One trouble, one notice: a store that says its own write failures (the SQLite file's
        # writer, the only one to hear of a failed journal write) is also the voice of the
        # results it could not keep, so a full disk is said once, not once by each.
        notice = getattr(self._store, "_failure_notice", None)
        self._unstored_notice = (
            notice if isinstance(notice, RateLimitedNotice) else RateLimitedNotice(log)
        )
        self._on_event = on_event
        self._waiting: dict[JobKey, _Waiting] = {}
        self._subscribers: dict[JobKey | None, list[StatusCallback]] = {}
        self._resolved_listeners: tuple[ResolvedCallback, ...] = ()
        self._store.listen(self._deliver)

    @property
    def store(self) -> ResultStore:
        return self._store

    @property
    def on_event(self) -> EventHook | None:
        """The event hook the sources feeding this registry report to (None: no events)."""
        return self._on_event

    # --- waiting --------------------------------------------------------------------------
    async def wait(self, key: JobKey, timeout: float | None = None) -> JobStatus:
        """The job's terminal status (whatever its state), once any source publishes it.

        Raises :class:`WaitTimeout` after ``timeout`` seconds (with the last status and the
        last error a source recorded), or the typed error a source reported with :meth:`fail`
        (e.g. ``NotFoundError``).
        """
        return (await self.wait_resolution(key, timeout)).status

    async def wait_resolution(
        self,
        key: JobKey,
        timeout: float | None = None,
        *,
        look_up: bool = True,
        not_stored: Callable[[], object] | None = None,
    ) -> Resolution:
        """Like :meth:`wait`, with how and when the result arrived.

        The waiter is in place before the store is read, so a result published while it is
        read still reaches it. ``not_stored`` is called once the store holds no result, before
        waiting: a caller starts its source there (a client's poller), so a stored result
        costs it nothing; what it raises ends this wait. ``look_up=False`` skips reading the
        store, for a caller that has it read at once another way (a poller's first look at a
        shared store reads the stored result in the round trip that takes the poll lease).
        The ``timeout`` counts from when the store answered.
        """
        future: asyncio.Future[Resolution] = asyncio.get_running_loop().create_future()
        waiting = self._add_waiter(key, future)
        try:
            stored = await (self.resolution(key) if look_up else self._unstored_result(key))
            if stored is not None and not future.done():
                self._wake(key, stored)
            if not_stored is not None and not future.done():
                not_stored()
            if timeout is None:
                return await future
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            timed_out = _timed_out(key, timeout or 0.0, waiting)
            raise timed_out from timed_out.__cause__
        finally:
            self._remove_waiter(key, waiting, future)

    def watch(self, key: JobKey, callback: OutcomeCallback) -> None:
        """Call ``callback(key, outcome)`` once, when ``key`` resolves or its waiters fail.

        ``outcome`` is the :class:`Resolution`, or the error :meth:`fail` reported (a
        ``RuntimeError`` when the registry closes). A waiter without a task or a future: for
        callers awaiting thousands of keys at once. It does not read the store (a result stored
        already is delivered by :meth:`look_up`); :meth:`unwatch` stops it. The callback runs
        in the publisher's task and must not block; an exception it raises is logged.
        """
        self._add_waiter(key, callback)

    def unwatch(self, key: JobKey, callback: OutcomeCallback) -> None:
        """Undo one :meth:`watch` of ``key`` that has not been called yet."""
        waiting = self._waiting.get(key)
        if waiting is not None:
            self._remove_waiter(key, waiting, callback)

    async def look_up(self, key: JobKey) -> bool:
        """Wake the waiters of ``key`` with its stored result, if there is one (then True).

        Like a late waiter's look, it announces nothing: the resolution was announced when
        it was stored.
        """
        stored = await self.resolution(key)
        if stored is None:
            return False
        self._wake(key, stored)
        return True

    def _add_waiter(
        self, key: JobKey, waiter: asyncio.Future[Resolution] | OutcomeCallback
    ) -> _Waiting:
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = _Waiting(waiter)
        else:
            waiting.waiters.append(waiter)
        return waiting

    def _remove_waiter(
        self, key: JobKey, waiting: _Waiting, waiter: asyncio.Future[Resolution] | OutcomeCallback
    ) -> None:
        # A delivery or failure took the whole entry away; otherwise only this waiter goes.
        if self._waiting.get(key) is waiting:
            waiters = waiting.waiters
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                del self._waiting[key]

    def waiters(self, key: JobKey) -> int:
        """How many callers await ``key`` right now."""
        waiting = self._waiting.get(key)
        return 0 if waiting is None else len(waiting.waiters)

    def timed_out(self, key: JobKey, timeout: float) -> WaitTimeout:
        """The :class:`WaitTimeout` of a waiter of ``key`` that gave up after ``timeout`` s.

        It carries the newest status and the last error a source met (also as its cause), as
        :meth:`wait_resolution` raises it; for callers that end waits themselves (``watch``).
        """
        return _timed_out(key, timeout, self._waiting.get(key))

    async def resolution(self, key: JobKey) -> Resolution | None:
        """The stored terminal result of ``key``, if one is known and not yet evicted."""
        stored = await self._store.get(key)
        if stored is None and self._unstored is not None:
            return await self._unstored.get(key)
        return stored

    async def _unstored_result(self, key: JobKey) -> Resolution | None:
        """A result the store refused and process memory kept (see :meth:`resolve_in_memory`)."""
        return None if self._unstored is None else await self._unstored.get(key)

    # --- publishing -----------------------------------------------------------------------
    async def publish(
        self, status: JobStatus, *, source: str = "poll", lag: float | None = None
    ) -> bool:
        """Record what a source learned; True when this call resolved the job.

        A non-terminal status only updates subscribers. A terminal one is stored unless the key
        already has a result, and wakes every waiter. ``lag`` is the source's bound on how long
        the status waited to be seen, in seconds (reported in :class:`~fastwait.events.
        JobResolved`).
        """
        key = (status.provider, status.id)
        hook = self._on_event
        if hook is not None:
            emit(hook, StatusSeen(*key, status.state, status.progress_percent, source))
        if status.state not in _TERMINAL_STATES:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.last_status = status
                waiting.last_error = None
            self._notify(key, status)
            return False
        resolution = Resolution(status, source, self._clock())
        # Stored first: no subscriber may see a result that a store failure then loses.
        if self._put_now is not None:
            stored = self._put_now(key, resolution)
        else:
            stored = await self._store.put_first(key, resolution)
        if stored is not resolution and stored.status.state is not status.state:
            log.warning(
                "ignoring conflicting terminal state %s for %s job %s (already %s via %s)",
                status.state.name,
                key[0],
                key[1],
                stored.status.state.name,
                stored.source,
            )
        return self._settle(key, resolution, stored, lag)

    async def resolve_in_memory(
        self,
        status: JobStatus,
        error: FastwaitError,
        *,
        source: str = "poll",
        lag: float | None = None,
    ) -> None:
        """Resolve a terminal ``status`` that the store refused with a lasting ``error``.

        For a source that cannot hand the status back (the poller; a webhook sender is told to
        retry instead): every waiter of this process gets it, and later ones find it in memory
        (bounded like the memory store), but a restart or another replica does not see it.
        That is said on the log at WARNING once, then at most every 30 s (through the notice
        of a store that says its own write failures, so that one trouble is said once).
        """
        key = (status.provider, status.id)
        self._unstored_notice.say(
            "%r cannot keep results (%s): they are kept in memory only, where a restart or"
            " another replica will not find them",
            self._store,
            error,
        )
        if self._unstored is None:
            self._unstored = MemoryResultStore(ttl=self._result_ttl, max_results=self._max_results)
        resolution = Resolution(status=status, source=source, resolved_at=self._clock())
        kept = await self._unstored.put_first(key, resolution)
        self._settle(key, resolution, kept, lag)

    def _settle(
        self, key: JobKey, resolution: Resolution, stored: Resolution, lag: float | None
    ) -> bool:
        """After a store took ``resolution`` or kept ``stored`` instead: announce and deliver
        the new result (True), or wake the waiters with the one already there, which was
        announced when it was stored (here, or by the store if elsewhere)."""
        if stored is not resolution:
            self._wake(key, stored)
            return False
        status = resolution.status
        self._notify(key, status)
        if self._on_event is not None:
            emit(self._on_event, JobResolved(*key, status.state, resolution.source, lag))
        self._deliver(key, resolution)
        return True

    def record_error(self, key: JobKey, error: FastwaitError) -> None:
        """Remember what last kept a source from learning ``key``'s status (a transient error).

        A waiter that times out before a status arrives gets it as ``WaitTimeout.last_error``;
        a status published later clears it.
        """
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.last_error = error

    def fail(self, key: JobKey, error: FastwaitError) -> None:
        """Fail the current waiters of ``key`` with a permanent error (nothing is stored)."""
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting.fail(key, error)

    def _wake(self, key: JobKey, resolution: Resolution) -> None:
        """Resolve the futures of ``key``'s current waiters."""
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting.resolve(key, resolution)

    def _deliver(self, key: JobKey, resolution: Resolution) -> None:
        """Wake ``key``'s waiters and announce the resolution to the listeners.

        Called once per resolution this process stores, and for each one its store announces
        from elsewhere; a duplicate or a late waiter only wakes (:meth:`_wake`).
        """
        self._wake(key, resolution)
        for listener in self._resolved_listeners:  # a tuple: replaced, never changed in place
            try:
                listener(key, resolution)
            except Exception:
                log.exception("resolution listener failed")

    # --- observing ------------------------------------------------------------------------
    def subscribe(self, callback: StatusCallback, key: JobKey | None = None) -> Callable[[], None]:
        """Call ``callback`` with every status published for ``key`` (every key if None).

        Returns the function that unsubscribes. Callbacks run synchronously in the publisher's
        task and must not block; an exception they raise is logged, never propagated.
        """
        callbacks = self._subscribers.setdefault(key, [])
        callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks and self._subscribers.get(key) is callbacks:
                del self._subscribers[key]

        return unsubscribe

    def on_resolved(self, listener: ResolvedCallback) -> Callable[[], None]:
        """Call ``listener(key, resolution)`` whenever a job resolves, from any source (once
        per resolution: a duplicate terminal status published later does not call it).

        Returns the function that removes it.
        """
        self._resolved_listeners = (*self._resolved_listeners, listener)

        def remove() -> None:
            listeners = list(self._resolved_listeners)
            listeners.remove(listener)
            self._resolved_listeners = tuple(listeners)

        return remove

    def _notify(self, key: JobKey, status: JobStatus) -> None:
        if not self._subscribers:
            return
        for callback in (*self._subscribers.get(key, ()), *self._subscribers.get(None, ())):
            try:
                callback(status)
            except Exception:
                log.exception("status subscriber failed")

    async def aclose(self) -> None:
        """Release the store; waiters still pending get :class:`RuntimeError`."""
        waiting, self._waiting = self._waiting, {}
        for key, entry in waiting.items():
            entry.fail(key, RuntimeError("registry closed"))
        await self._store.aclose()

    async def __aenter__(self) -> Registry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
