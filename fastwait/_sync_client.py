"""SyncClient: the async :class:`~fastwait.Client`, driven from synchronous code.

Not a second implementation: each method hands the async method's coroutine to one event
loop running on a private thread (:mod:`fastwait._loop_thread`) and blocks the calling thread
until it ends. So every thread of a process that shares a ``SyncClient`` shares one
session, one poller (a job awaited by ten threads is polled once) and what the poller learns.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from fastwait._client import Client, JobResult
from fastwait._loop_thread import LoopThread
from fastwait._models import JobAccepted, JobStatus
from fastwait.exceptions import ConfigurationError
from fastwait.polling._schedule import PollPolicy
from fastwait.providers import Provider
from fastwait.registry._registry import Registry
from fastwait.registry._store import Resolution
from fastwait.webhooks._callback_bindings import CallbackBindings

__all__ = ["SyncClient"]

T = TypeVar("T")


class SyncClient:
    """Awaits, submits and downloads the jobs of one ``provider`` from synchronous code.

    The arguments are :class:`~fastwait.Client`'s (a session cannot be given: it would belong
    to another loop). Make one per process, at module level if you like, and share it between
    threads: every method may be called from any number of threads at once. Each call blocks
    its thread only; results, ``WaitTimeout`` and the typed errors are the async API's,
    raised as they are. Ctrl-C during a call cancels it on the loop (with ``cancel_remote=True``
    a wait so interrupted cancels the remote job) before ``KeyboardInterrupt`` reaches you.

    Use it as a context manager or call :meth:`close`; one left unclosed warns
    (``ResourceWarning``) when collected. A ``registry`` given is handed over: it is used on
    the client's loop thread only, and closed with the client; make it where no event loop
    runs (at module level, say: a Redis store subscribes on the loop running when it is made).
    ``on_progress`` is called on the loop thread and must not block, nor call this client.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        registry: Registry | None = None,
        policy: PollPolicy | None = None,
        max_connections: int = 32,
        request_timeout: float = 30.0,
        on_progress: Callable[[JobStatus], None] | None = None,
        callback_url: str | None = None,
        webhook_secret: str | None = None,
        callback_bindings: CallbackBindings | None = None,
        keep_raw: bool = False,
    ) -> None:
        self._client = Client(
            provider,
            registry=registry,
            policy=policy,
            max_connections=max_connections,
            request_timeout=request_timeout,
            on_progress=on_progress,
            callback_url=callback_url,
            webhook_secret=webhook_secret,
            callback_bindings=callback_bindings,
            keep_raw=keep_raw,
        )
        self._given_registry = registry
        self._close_lock = threading.Lock()
        self._closed = False
        self._loop_thread = LoopThread(f"fastwait-{provider.name}")

    def __repr__(self) -> str:
        return f"SyncClient({self._client.provider!r})"

    # --- the engine ---------------------------------------------------------------------------
    @property
    def provider(self) -> Provider:
        return self._client.provider

    @property
    def async_client(self) -> Client:
        """The async :class:`~fastwait.Client` this facade drives, on its loop thread.

        Use it only inside coroutines given to :meth:`run` (it belongs to that loop).
        """
        return self._client

    @property
    def registry(self) -> Registry:
        """The registry the engine awaits: publish into it (a webhook receiver) from
        coroutines given to :meth:`run` only."""
        return self._client.registry

    @property
    def callback_bindings(self) -> CallbackBindings:
        """Which job each submission's callback token stands for (share with the receiver)."""
        return self._client.callback_bindings

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on this client's loop thread and return its result here.

        What every method does; for the rest of the async API (``run(sync.async_client.
        compare(job_id))``) and for code that feeds the same registry (the WSGI receiver).
        Raises what the coroutine raised, or ``RuntimeError`` once the client is closed (also
        to calls still running when it closed), when called from the loop thread, or from a
        process forked after the client was made.
        """
        return self._loop_thread.call(coroutine)

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the calls still running (they raise ``RuntimeError``), close the engine and
        its registry, and end the loop thread. Idempotent; call it from any thread but the
        loop's own."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._loop_thread.stop(self._close_engine())

    async def _close_engine(self) -> None:
        try:
            await self._client.aclose()
        finally:
            if self._given_registry is not None:
                await self._given_registry.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # The constructor may have raised before the thread was started.
        loop_thread = getattr(self, "_loop_thread", None)
        if loop_thread is None or self._closed or not loop_thread.is_running:
            return
        _warn(f"unclosed {self!r}: use 'with' or close()", ResourceWarning, stacklevel=1)
        self._closed = True
        loop_thread.stop_soon(self._close_engine())

    # --- single requests ------------------------------------------------------------------
    def submit(
        self, path: str | os.PathLike[str], *, callback_url: str | None = None, **options: str
    ) -> JobAccepted:
        """:meth:`Client.submit <fastwait.Client.submit>`: upload ``path`` as a new job."""
        return self.run(self._client.submit(path, callback_url=callback_url, **options))

    def status(self, job_id: str) -> JobStatus:
        """The job's current status, fetched now (one request)."""
        return self.run(self._client.status(job_id))

    def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job (``ConflictError`` if it already ended)."""
        self.run(self._client.cancel(job_id))

    def download(
        self,
        job_id: str,
        dest: str | os.PathLike[str] = ".",
        *,
        status: JobStatus | None = None,
        overwrite: bool = False,
    ) -> Path:
        """:meth:`Client.download <fastwait.Client.download>`: save the job's output in
        ``dest`` and return its path."""
        return self.run(self._client.download(job_id, dest, status=status, overwrite=overwrite))

    # --- waiting ----------------------------------------------------------------------------
    def wait(
        self, job_id: str, timeout: float | None = None, *, cancel_remote: bool = False
    ) -> JobStatus:
        """:meth:`Client.wait <fastwait.Client.wait>`: the SUCCEEDED status, or ``JobFailed``,
        ``JobCanceled``, ``WaitTimeout`` after ``timeout`` seconds, or a typed API error."""
        return self.run(self._client.wait(job_id, timeout, cancel_remote=cancel_remote))

    def wait_resolution(
        self, job_id: str, timeout: float | None = None, *, cancel_remote: bool = False
    ) -> Resolution:
        """:meth:`Client.wait_resolution <fastwait.Client.wait_resolution>`: the terminal
        status (any state) and its source."""
        return self.run(self._client.wait_resolution(job_id, timeout, cancel_remote=cancel_remote))

    def submit_and_wait(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        callback_url: str | None = None,
        cancel_remote: bool = False,
        **options: str,
    ) -> JobStatus:
        """:meth:`submit` then :meth:`wait`: the one-liner."""
        return self.run(
            self._client.submit_and_wait(
                path,
                timeout=timeout,
                callback_url=callback_url,
                cancel_remote=cancel_remote,
                **options,
            )
        )

    def as_completed(
        self, job_ids: Iterable[str], timeout: float | None = None
    ) -> Generator[JobResult, None, None]:
        """:meth:`Client.as_completed <fastwait.Client.as_completed>` as a plain iterator: a
        :class:`~fastwait.JobResult` per job, in the order they finish.

        ``timeout`` (seconds from this call, for each job) is checked here. Leaving the loop
        early stops waiting for the rest when the iterator is closed (``close()``, or
        ``contextlib.closing``) or collected.
        """
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be positive (or None to wait indefinitely)")
        return self._completed(self._client.as_completed(list(job_ids), timeout))

    def _completed(
        self, results: AsyncGenerator[JobResult, None]
    ) -> Generator[JobResult, None, None]:
        try:
            while (result := self.run(_next_or_none(results))) is not None:
                yield result
        finally:
            # Collected on the loop thread, the generator is finalized by the loop itself.
            if not self._loop_thread.in_loop_thread and not self._closed:
                with contextlib.suppress(RuntimeError):  # closed meanwhile: the loop ended it
                    self.run(results.aclose())


async def _next_or_none(results: AsyncGenerator[JobResult, None]) -> JobResult | None:
    """The next result, or None at the end (StopAsyncIteration does not cross threads well)."""
    try:
        return await anext(results)
    except StopAsyncIteration:
        return None
