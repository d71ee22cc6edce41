"""An asyncio event loop on a thread of its own, for synchronous callers.

:class:`~fastwait.SyncClient` runs the one async engine here, so every thread of a
synchronous program (a Django worker, a thread pool, a script) shares one poller and one
session. Calling in is :meth:`LoopThread.call`: it blocks the calling thread only, answers
with the coroutine's own result or exception, and when the caller is interrupted (Ctrl-C in
the main thread) it cancels the coroutine on the loop and waits for it to end before the
``KeyboardInterrupt`` goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

_JOIN_CHECK = 0.1
"""Seconds between looks at the loop thread while an interrupted call is being cancelled."""


class LoopThread:
    """A running event loop and its daemon thread, until :meth:`stop`.

    Calls are taken from any thread of the process that made it; coroutines still running
    when it stops are cancelled and awaited by ``asyncio.run``'s own shutdown.
    """

    __slots__ = ("_calls", "_closing", "_loop", "_pid", "_stop", "_submit_lock", "_thread")

    def __init__(self, name: str) -> None:
        self._pid = os.getpid()
        self._closing = False
        self._submit_lock = threading.Lock()
        self._calls: set[asyncio.Task[Any]] = set()
        started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = (
            concurrent.futures.Future()
        )
        # A daemon: a loop left running by a program that never stopped it must not keep the
        # interpreter from exiting (its owner warns when collected unclosed).
        self._thread = threading.Thread(target=self._main, args=(started,), name=name, daemon=True)
        self._thread.start()
        self._loop, self._stop = started.result()

    @staticmethod
    def _main(
        started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]],
    ) -> None:
        async def serve() -> None:
            stop = asyncio.Event()
            started.set_result((asyncio.get_running_loop(), stop))
            await stop.wait()

        asyncio.run(serve())

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    @property
    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread (where a blocking call would deadlock)."""
        return threading.get_ident() == self._thread.ident

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop; block until it ends; return or raise what it did.

        Raises ``RuntimeError`` when the loop is stopping or stopped, when called from the loop
        thread itself, or from a process forked after this one was made (a thread does not
        survive ``fork``). The coroutine is closed unrun when refused.
        """
        with self._submit_lock:
            try:
                self._check_usable()
                future = asyncio.run_coroutine_threadsafe(self._tracked(coroutine), self._loop)
            except BaseException:
                coroutine.close()
                raise
        return self._result(future)

    def _check_usable(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError(
                "this fastwait loop thread belongs to the process that made it, before a fork:"
                " make one SyncClient in each process"
            )
        if self._closing or not self._thread.is_alive():
            raise RuntimeError("this SyncClient is closed")
        if self.in_loop_thread:
            raise RuntimeError(
                "a SyncClient cannot be called from its own loop thread (e.g. from on_progress):"
                " it would wait for itself"
            )

    async def _tracked(self, coroutine: Coroutine[Any, Any, T]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            return await coroutine
        finally:
            self._calls.discard(task)

    def _result(self, future: concurrent.futures.Future[T]) -> T:
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            # Cancelled on the loop, not by this caller: the client closed while it waited.
            raise RuntimeError("this SyncClient was closed while the call was running") from None
        except BaseException:
            if not future.done():
                # Interrupted (KeyboardInterrupt, or a signal handler's exception): end the
                # coroutine on the loop too, and let the interrupt go on once it has ended, so
                # that nothing the caller gave up on still runs. A second interrupt leaves at once.
                future.cancel()
                self._until_ended(future)
            raise

    def _until_ended(self, future: concurrent.futures.Future[Any]) -> None:
        ended = threading.Event()
        # The concurrent future is done (cancelled) already; its task ends on the loop.
        with contextlib.suppress(RuntimeError):  # the loop closed: nothing runs any more
            self._loop.call_soon_threadsafe(self._when_calls_end, ended)
        while self._thread.is_alive() and not ended.wait(_JOIN_CHECK):
            pass  # checked again: the loop may stop without ever running the callback

    def _when_calls_end(self, ended: threading.Event) -> None:
        # Runs on the loop after the cancellation was delivered (it was scheduled first);
        # waits for every call cancelled so far, which includes the interrupted one.
        cancelled = [task for task in self._calls if task.cancelling()]
        if not cancelled:
            ended.set()
            return
        gathered = asyncio.gather(*cancelled, return_exceptions=True)
        gathered.add_done_callback(lambda _: ended.set())

    def stop(self, last: Coroutine[Any, Any, None] | None = None) -> None:
        """Refuse new calls, cancel and await the running ones, run ``last``, stop the loop and
        join the thread. Idempotent; from the loop thread itself, ``RuntimeError``.
        """
        with self._submit_lock:
            if self._closing:
                if last is not None:
                    last.close()
                return
            if self.in_loop_thread:
                if last is not None:
                    last.close()
                raise RuntimeError("a SyncClient cannot be closed from its own loop thread")
            self._closing = True
        if os.getpid() != self._pid or not self._thread.is_alive():
            if last is not None:
                last.close()
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(last), self._loop)
        try:
            future.result()
        finally:
            self._thread.join()

    def stop_soon(self, last: Coroutine[Any, Any, None] | None = None) -> None:
        """Like :meth:`stop` without waiting for it: for a finalizer, which must not block."""
        with self._submit_lock:
            if self._closing or os.getpid() != self._pid or not self._thread.is_alive():
                if last is not None:
                    last.close()
                return
            self._closing = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(last), self._loop)
        except RuntimeError:  # the loop closed meanwhile
            if last is not None:
                last.close()

    async def _shutdown(self, last: Coroutine[Any, Any, None] | None) -> None:
        try:
            calls = list(self._calls)
            for task in calls:
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            if last is not None:
                await last
        finally:
            self._stop.set()
