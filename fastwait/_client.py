"""The client: one provider, one aiohttp session, one poller, one registry.

``await client.wait(job_id)`` is the line fastwait exists for. It returns as soon as any source
(this client's poller, a webhook receiver publishing into the same registry, another replica)
reports the job terminal, and it behaves the same whichever one it was.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
import urllib.parse
import warnings
from collections.abc import AsyncGenerator, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import aiohttp
import attrs

from fastwait._completions import Completions
from fastwait._models import JobAccepted, JobState, JobStatus
from fastwait._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpTransport
from fastwait.downloads._archive import ArchiveLimits
from fastwait.downloads._directory import make_directory
from fastwait.downloads._downloader import is_output_archive, save_output, unpack_outputs
from fastwait.exceptions import (
    ConfigurationError,
    FastwaitError,
    JobCanceled,
    JobFailed,
    WaitTimeout,
)
from fastwait.polling._job_age import uuid7_created_at
from fastwait.polling._poller import Poller, PollStats
from fastwait.polling._schedule import PollPolicy
from fastwait.providers import ApiCall, Provider
from fastwait.providers._validation import require_status_of
from fastwait.registry._registry import Registry
from fastwait.registry._store import JobJournal, PollLease, Resolution
from fastwait.webhooks._callback_bindings import CallbackBindings
from fastwait.webhooks._callback_tokens import CallbackTokens

__all__ = ["Client", "JobResult"]

log = logging.getLogger("fastwait.client")

_T = TypeVar("_T")

_REMEMBERED_SUBMISSIONS = 100_000


@attrs.frozen
class JobResult:
    """How waiting for one job ended, for batch callers that must not stop at one failure.

    Exactly one of ``status`` (a terminal status: SUCCEEDED, FAILED or CANCELED) and ``error``
    (``WaitTimeout`` or a typed API error such as ``NotFoundError``) is set. ``source`` says
    whether the result came by ``"poll"`` or ``"webhook"``; ``elapsed`` is seconds from the
    start of the wait.
    """

    provider: str
    job_id: str
    status: JobStatus | None
    error: FastwaitError | None = None
    source: str | None = None
    polls: int = 0
    elapsed: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.status is not None and self.status.state is JobState.SUCCEEDED


@attrs.frozen
class _Submission:
    submitted_at: float
    queue_estimate: float | None
    input_bytes: int | None = None
    webhook_expected: bool = False
    """Submitted with this client's ``callback_url``: the API was asked to call it back."""


class Client:
    """Awaits, submits and downloads the jobs of one ``provider``.

    Use it as an async context manager (or call :meth:`aclose`). ``session`` may be a session
    you own (it is not closed here); otherwise the client makes one with at most
    ``max_connections`` connections. ``registry`` may be shared with a webhook receiver or
    other clients (it is not closed here; without one the client makes its own, closed with
    it); ``policy`` tunes the adaptive poll schedule; ``on_progress`` is called with every
    non-terminal status this client's poller sees (it must not block). ``keep_raw`` keeps each
    status' payload as ``JobStatus.raw`` (by default ``raw`` is empty: a result is kept until
    it expires, and the payload would be most of its size). ``max_response_bytes`` caps a JSON
    answer, which is read whole before it is decoded (1 MiB; a larger one is a transient
    ``BadResponseError``). ``archive_limits`` bounds what a multi-output ZIP may unpack to
    (:class:`~fastwait.downloads.ArchiveLimits`; beyond them it is refused as a zip bomb).

    Hybrid mode: with ``callback_url`` (the public root of a :mod:`fastwait.receiver` app fed into
    the same ``registry``) every submit asks the API to call back — ``{callback_url}/hooks/{name}``
    for APIs that sign their webhooks, ``{callback_url}/callbacks/{token}`` with a per-job
    token derived from ``webhook_secret`` for those that cannot — and waiting for a job so
    submitted relies on the webhook, keeping only a slow safety-net poll so a lost webhook
    costs latency, never a result. Jobs submitted elsewhere (awaited by id) are polled
    adaptively: no API was asked to call back for them. Share ``callback_bindings`` with the
    receiver so it knows each token's job.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        session: aiohttp.ClientSession | None = None,
        registry: Registry | None = None,
        policy: PollPolicy | None = None,
        max_connections: int = 32,
        request_timeout: float = 30.0,
        on_progress: Callable[[JobStatus], None] | None = None,
        callback_url: str | None = None,
        webhook_secret: str | None = None,
        callback_bindings: CallbackBindings | None = None,
        keep_raw: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        archive_limits: ArchiveLimits | None = None,
    ) -> None:
        if not isinstance(provider, Provider):
            raise ConfigurationError(f"provider must be a fastwait Provider, not {provider!r}")
        if max_connections < 1:
            raise ConfigurationError("max_connections must be at least 1")
        if not request_timeout > 0:
            raise ConfigurationError("request_timeout must be positive")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise ConfigurationError("max_response_bytes must be an int")
        if max_response_bytes < 1:
            raise ConfigurationError("max_response_bytes must be at least 1")
        if callback_url is not None and not _is_http_url(callback_url):
            raise ConfigurationError("callback_url must be an absolute http(s) URL")
        self._tokens: CallbackTokens | None = None
        if webhook_secret is not None:
            self._tokens = CallbackTokens(webhook_secret)
        elif callback_url is not None and not provider.signs_webhooks:
            raise ConfigurationError(
                f"the {provider.name} API cannot sign webhooks: give webhook_secret so each job "
                "gets its own unguessable callback URL"
            )
        self._callback_url = callback_url.rstrip("/") if callback_url else None
        self._bindings = callback_bindings if callback_bindings is not None else CallbackBindings()
        self._provider = provider
        self._own_session = session is None
        self._session = session
        self._own_registry = registry is None
        self._registry = registry if registry is not None else Registry()
        store = self._registry.store
        # What the store can do, read once: a runtime Protocol check costs microseconds.
        self._journal = store if isinstance(store, JobJournal) else None
        self._lookups_shared = isinstance(store, PollLease)
        """Whether the poller's first look at a job reads its stored result (a store shared by
        replicas: one round trip takes the poll lease or finds the result)."""
        self._policy = policy or PollPolicy()
        self._max_connections = max_connections
        self._request_timeout = request_timeout
        self._on_progress = on_progress
        self._keep_raw = keep_raw
        self._max_response_bytes = max_response_bytes
        self._archive_limits = archive_limits
        self._transport: HttpTransport | None = None
        self._poller: Poller | None = None
        self._submissions: collections.OrderedDict[str, _Submission] = collections.OrderedDict()
        self._unsubscribe: Callable[[], None] | None = None
        self._cancellations: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"Client({self._provider!r})"

    @property
    def provider(self) -> Provider:
        return self._provider

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def callback_bindings(self) -> CallbackBindings:
        """Which job each submission's callback token stands for (share with the receiver)."""
        return self._bindings

    # --- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> tuple[HttpTransport, Poller]:
        if self._closed:
            raise RuntimeError("this Client is closed")
        if self._transport is None or self._poller is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=self._max_connections, limit_per_host=self._max_connections
                    ),
                    # The job APIs set no cookies: a real jar would filter and parse for nothing
                    # on every request and response.
                    cookie_jar=aiohttp.DummyCookieJar(),
                    timeout=aiohttp.ClientTimeout(
                        total=None,
                        sock_connect=self._request_timeout,
                        sock_read=self._request_timeout,
                    ),
                )
            self._transport = HttpTransport(
                self._session, self._provider, max_response_bytes=self._max_response_bytes
            )
            self._poller = Poller(
                self._provider.name,
                self._fetch_status,
                self._registry,
                reports_progress=self._provider.reports_progress,
                policy=self._policy,
                max_in_flight=self._max_connections,
            )
            if self._on_progress is not None:
                callback = self._on_progress
                name = self._provider.name

                def progress(status: JobStatus) -> None:
                    if status.provider == name and not status.is_terminal:
                        callback(status)

                self._unsubscribe = self._registry.subscribe(progress)
        return self._transport, self._poller

    async def aclose(self) -> None:
        """Stop polling, and close the session and the registry if this client made them.
        Idempotent.

        Cancel requests still on their way (``cancel_remote=True`` waits that were cancelled)
        are finished first. Waits still pending in other tasks end with ``RuntimeError`` when
        the registry is the client's own; a registry you gave is yours to close (a receiver
        feeding it may still resolve them).
        """
        if self._closed:
            return
        while self._cancellations:
            await asyncio.gather(*self._cancellations, return_exceptions=True)
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._poller is not None:
            await self._poller.aclose()
        if self._own_registry:
            await self._registry.aclose()
        if self._own_session and self._session is not None:
            await self._session.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # The constructor may have raised before these were set.
        session = getattr(self, "_session", None)
        if getattr(self, "_own_session", False) and session is not None and not self._closed:
            _warn(f"unclosed {self!r}: use 'async with' or aclose()", ResourceWarning, stacklevel=1)

    # --- single requests ------------------------------------------------------------------
    async def submit(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        callback_url: str | None = None,
        **options: str,
    ) -> JobAccepted:
        """Submit a new job: upload ``path`` (``targetFormat=`` for convert, ``preset=`` for
        media), or, for an API whose submit is a JSON request, send the ``options`` alone.

        ``callback_url`` asks the API to POST the job's completion there (a webhook).
        Raises ``UnsupportedOperationError`` for an API fastwait cannot submit to
        (compressor.app: submit there, await by id), and ``ConfigurationError`` when the API
        needs a file and ``path`` is None, or takes none and ``path`` is given.
        """
        transport, _ = self._open()
        file = None if path is None else Path(path)
        if file is not None and not file.is_file():
            raise ConfigurationError(f"{file} is not a readable file")
        nonce: str | None = None
        called_back = callback_url is None and self._callback_url is not None
        if called_back:
            callback_url, nonce = self._submission_callback()
        request = self._provider.submit_request(
            None if file is None else file.name, options, callback_url
        )
        if file is None and request.file_field is not None:
            raise ConfigurationError(f"the {self._provider.name} API submits a file: give its path")
        if file is not None and request.file_field is None:
            raise ConfigurationError(f"the {self._provider.name} API's submit takes no file")
        size = None if file is None else file.stat().st_size  # durations are learnt per size
        response = await transport.json(request, ok=(200, 201, 202), upload=file, empty_ok=True)
        accepted = self._provider.parse_submit_answer(response.payload, response.headers)
        if nonce is not None and not self._bindings.bind(self._provider.name, nonce, accepted.id):
            log.warning(
                "callback token of %s job %s was used by another job",
                accepted.provider,
                accepted.id,
            )
        queue = accepted.queue
        self._remember(
            accepted.id,
            _Submission(
                submitted_at=asyncio.get_running_loop().time(),
                queue_estimate=queue.estimate_seconds if queue else None,
                input_bytes=size,
                webhook_expected=called_back,
            ),
        )
        return accepted

    def _submission_callback(self) -> tuple[str, str | None]:
        """The callback URL for the next submit, and the nonce its token names (if any)."""
        assert self._callback_url is not None
        name = self._provider.name
        if self._provider.signs_webhooks:
            return f"{self._callback_url}/hooks/{name}", None
        assert self._tokens is not None
        token, nonce = self._tokens.for_submission(name)
        return f"{self._callback_url}/callbacks/{token}", nonce

    async def status(self, job_id: str) -> JobStatus:
        """The job's current status, fetched now (one request).

        Raises a transient ``BadResponseError`` when the API answers with another job's status.
        """
        status, _ = await self._fetch_status(job_id)
        return require_status_of(status, self._provider.name, job_id)

    async def _fetch_status(self, job_id: str) -> tuple[JobStatus, float | None]:
        transport, _ = self._open()
        response = await transport.json(self._provider.status_request(job_id))
        status = self._provider.parse_status(response.payload, keep_raw=self._keep_raw)
        if not status.id:  # an API whose status answer does not name its job
            status = attrs.evolve(status, id=job_id)
        return status, response.retry_after

    async def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job (``ConflictError`` if it already ended)."""
        transport, _ = self._open()
        await transport.empty(self._provider.cancel_request(job_id), ok=(200, 202, 204))

    async def delete(self, job_id: str) -> None:
        """Delete a finished job and its output (``ConflictError`` while it runs)."""
        transport, _ = self._open()
        await transport.empty(self._provider.delete_request(job_id), ok=(200, 202, 204))

    async def call(self, call: ApiCall[_T]) -> _T:
        """Run one of the provider's own operations and return what it reads from the answer.

        ``call`` comes from this client's provider (tools.fast compress:
        ``await client.call(api.compare(job_id))``, ``api.compressors()``,
        ``api.entitlements()``; a provider of your own returns :class:`ApiCall` values the same
        way). An error answer raises what the provider's ``parse_error`` makes of it.
        """
        transport, _ = self._open()
        response = await transport.json(call.request, ok=call.ok)
        return call.parse(response.payload)

    # --- downloads ------------------------------------------------------------------------
    async def download(
        self,
        job_id: str,
        dest: str | os.PathLike[str] = ".",
        *,
        status: JobStatus | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Stream the job's output into directory ``dest``; return the file's path.

        ``dest`` is created (with its parents) if missing. The name comes from the status'
        ``output.fileName`` (else Content-Disposition), reduced to one safe path component. When
        a file of that name exists it is kept and this output is saved as ``stem-JOBID.ext``
        (then ``stem-JOBID-2.ext``, ...); ``overwrite=True`` replaces it instead. The bytes land
        in a temporary file renamed into place only when complete and, where the API publishes
        one, sha1-verified: no half file is ever left under the final name. Files get the
        process umask, like any other file the user creates. A multi-output job saves its ZIP
        (see :meth:`download_outputs`). ``status`` (e.g. what :meth:`wait` returned) saves a
        status request. Raises ``ExpiredError`` (410) once the output was cleaned up,
        ``ConfigurationError`` when ``dest`` cannot be made a directory, and ``DownloadError``
        when the file cannot be saved (a full disk, a directory in the way, no permission).
        """
        transport, _ = self._open()
        directory = make_directory(dest)
        if status is None:
            status = await self.status(job_id)
        return await save_output(transport, self._provider, status, directory, overwrite=overwrite)

    async def download_outputs(
        self,
        job_id: str,
        dest: str | os.PathLike[str] = ".",
        *,
        status: JobStatus | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Download and return every output file: a multi-output ZIP is unpacked into ``dest``.

        Member names are sanitized like any API-suggested name and follow :meth:`download`'s
        rules for names already taken; the ZIP itself is removed. An archive the client's
        ``archive_limits`` refuse (a zip bomb), or with a member that cannot be unpacked,
        raises ``DownloadError`` and leaves none of its members.
        """
        if status is None:
            status = await self.status(job_id)
        archive = is_output_archive(status)
        path = await self.download(job_id, dest, status=status, overwrite=overwrite and not archive)
        if not archive:
            return [path]
        return await unpack_outputs(
            path, Path(dest), job_id=job_id, overwrite=overwrite, limits=self._archive_limits
        )

    # --- waiting --------------------------------------------------------------------------
    def _remember(self, job_id: str, submission: _Submission) -> None:
        self._submissions[job_id] = submission
        if len(self._submissions) > _REMEMBERED_SUBMISSIONS:
            self._submissions.popitem(last=False)

    def _submission(self, job_id: str, now: float) -> _Submission | None:
        """What is known of the job's submission: remembered, or read from a GUIDv7 id."""
        submission = self._submissions.get(job_id)
        if submission is not None:
            return submission
        created = uuid7_created_at(job_id)
        if created is None:
            return None
        return _Submission(now - max(time.time() - created, 0.0), queue_estimate=None)

    async def resume(self, *, unreported: bool = False) -> list[str]:
        """The ids of this provider's jobs a durable registry journaled without a result.

        After a restart, ``await`` them (``wait``, ``as_completed``) to continue polling where
        the crashed process stopped; jobs whose result was stored before the crash are not
        among them and are never fetched again. Empty for a registry that keeps no journal.

        With ``unreported=True``, also the jobs whose result was stored but never passed to
        :meth:`mark_reported`: awaiting those returns the stored result at once, without a
        request. Report each result, then mark it, and a crash anywhere in between costs a
        result reported twice, never one lost. A SQLite state keeps an unreported result until
        it is marked, a week at most (``SQLiteResultStore(unreported_ttl=...)``).
        """
        _, poller = self._open()
        store = self._journal
        if store is None:
            return []
        name = self._provider.name
        ids: list[str] = []
        jobs = await (store.unreported_jobs(name) if unreported else store.unresolved_jobs(name))
        for job in jobs:
            if job.resolved:
                ids.append(job.job_id)
                continue
            if not unreported and await self._registry.resolution((name, job.job_id)):
                continue
            if job.submitted_at is not None:
                submitted_at = poller.clock_time(job.submitted_at)
                self._remember(job.job_id, _Submission(submitted_at, queue_estimate=None))
            ids.append(job.job_id)
        return ids

    def mark_reported(self, job_id: str) -> None:
        """Note that ``job_id``'s result was passed on, so :meth:`resume` stops offering it.

        Call it after the result is safely out (printed and flushed, written, acknowledged).
        Queued, not awaited: a crash before the mark is written repeats the report. Does
        nothing for a registry that keeps no journal.
        """
        if self._journal is not None:
            self._journal.job_reported((self._provider.name, job_id))

    def track(self, job_id: str) -> Callable[[], None]:
        """Start polling ``job_id`` without waiting; results go to the registry.

        Returns the function that stops tracking (polling also stops when the job resolves).
        """
        _, poller = self._open()
        self._track(job_id)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                poller.release(job_id)

        return release

    def _track(self, job_id: str) -> None:
        """Poll ``job_id`` (once per job, however many callers); match with ``_release``.

        Raises ``ConfigurationError`` for a malformed id, before any request.
        """
        _, poller = self._open()
        self._provider.status_request(job_id)  # a malformed id fails here, not at the first poll
        submission = self._submission(job_id, poller.now())
        poller.track(
            job_id,
            submitted_at=submission.submitted_at if submission else None,
            queue_estimate=submission.queue_estimate if submission else None,
            webhook_expected=submission.webhook_expected if submission else False,
            input_bytes=submission.input_bytes if submission else None,
        )

    def _release(self, job_id: str) -> None:
        if self._poller is not None:
            self._poller.release(job_id)

    async def wait_resolution(
        self, job_id: str, timeout: float | None = None, *, cancel_remote: bool = False
    ) -> Resolution:
        """The job's terminal status (any state) with its source, polling until it arrives.

        Raises ``WaitTimeout`` after ``timeout`` seconds or a typed API error (``NotFoundError``,
        ``AuthenticationError``, ...) as soon as polling meets one.

        Giving up on a wait (the timeout, or cancelling the task that waits) stops only the
        waiting: the remote job runs on, and is billed, unless ``cancel_remote=True``, which
        then asks the API to cancel it — when no other caller of this process still awaits it
        (other processes cannot be known) — before ``WaitTimeout`` is raised, or in the
        background when the task was cancelled (:meth:`aclose` waits for it). A failed cancel
        (the job just finished: ``ConflictError``) is logged, never raised in place of the
        timeout. An API that cannot cancel jobs raises ``UnsupportedOperationError`` at once.
        """
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be positive (or None to wait indefinitely)")
        if cancel_remote:
            self._require_cancellable()
        key = (self._provider.name, job_id)
        releases: list[Callable[[], None]] = []
        try:
            return await self._registry.wait_resolution(
                key,
                timeout,
                look_up=not self._lookups_shared,
                not_stored=lambda: releases.append(self.track(job_id)),
            )
        except WaitTimeout:
            if cancel_remote:
                await self._cancel_abandoned(job_id)
            raise
        except asyncio.CancelledError:
            if cancel_remote:
                task = asyncio.create_task(self._cancel_abandoned(job_id))
                self._cancellations.add(task)
                task.add_done_callback(self._cancellations.discard)
            raise
        finally:
            for release in releases:
                release()

    def _require_cancellable(self) -> None:
        """UnsupportedOperationError now if the API cannot cancel jobs (any valid id tells)."""
        self._provider.cancel_request("job")

    async def _cancel_abandoned(self, job_id: str) -> None:
        """Cancel the remote job nobody here awaits any more; log, never raise, a failure."""
        if self._registry.waiters((self._provider.name, job_id)):
            return
        try:
            await self.cancel(job_id)
        except (FastwaitError, RuntimeError) as error:
            log.info("could not cancel abandoned %s job %s: %s", self._provider.name, job_id, error)
        else:
            log.info("canceled abandoned %s job %s", self._provider.name, job_id)

    async def wait(
        self, job_id: str, timeout: float | None = None, *, cancel_remote: bool = False
    ) -> JobStatus:
        """Wait for ``job_id`` to finish and return its SUCCEEDED status.

        Raises ``JobFailed`` (with the provider's code and detail) or ``JobCanceled`` when the
        job ended otherwise, ``WaitTimeout`` after ``timeout`` seconds, or a typed API error.
        ``cancel_remote=True`` cancels the remote job when the wait gives up on it (see
        :meth:`wait_resolution`).
        """
        status = (await self.wait_resolution(job_id, timeout, cancel_remote=cancel_remote)).status
        if status.state is JobState.FAILED:
            raise JobFailed(status)
        if status.state is JobState.CANCELED:
            raise JobCanceled(status)
        return status

    async def submit_and_wait(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = None,
        callback_url: str | None = None,
        cancel_remote: bool = False,
        **options: str,
    ) -> JobStatus:
        """:meth:`submit` then :meth:`wait`: the one-liner (``cancel_remote`` as for wait)."""
        if cancel_remote:
            self._require_cancellable()  # refused before a job is paid for
        accepted = await self.submit(path, callback_url=callback_url, **options)
        return await self.wait(accepted.id, timeout, cancel_remote=cancel_remote)

    def poll_stats(self, job_id: str) -> PollStats | None:
        """How many polls a tracked or recently resolved job took, and when (None once
        10,000 other jobs have resolved since, or if it was never polled)."""
        return None if self._poller is None else self._poller.stats(job_id)

    def _polls_of(self, job_id: str) -> int:
        stats = self.poll_stats(job_id)
        return stats.polls if stats else 0

    async def result(self, job_id: str, timeout: float | None = None) -> JobResult:
        """Wait for ``job_id`` and describe how it ended, without raising for the job's fate."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome: Resolution | FastwaitError
        try:
            outcome = await self.wait_resolution(job_id, timeout)
        except FastwaitError as error:
            outcome = error
        return self._job_result(job_id, outcome, self._polls_of(job_id), loop.time() - started)

    def _job_result(
        self, job_id: str, outcome: Resolution | FastwaitError, polls: int, elapsed: float
    ) -> JobResult:
        if isinstance(outcome, Resolution):
            return JobResult(
                provider=self._provider.name,
                job_id=job_id,
                status=outcome.status,
                source=outcome.source,
                polls=polls,
                elapsed=elapsed,
            )
        return JobResult(
            provider=self._provider.name,
            job_id=job_id,
            status=None,
            error=outcome,
            polls=polls,
            elapsed=elapsed,
        )

    async def as_completed(
        self, job_ids: Iterable[str], timeout: float | None = None
    ) -> AsyncGenerator[JobResult, None]:
        """Yield a :class:`JobResult` for each job, in the order they finish.

        One job's failure, cancellation or timeout (``timeout`` seconds from the call, for
        each job) is reported in its result and never stops the others. Leaving the loop
        early stops waiting for the rest (at once inside ``contextlib.aclosing``, else when
        the generator is collected). Costs no task per job: 100,000 jobs are fine. A store
        that cannot be read ends the jobs it was asked about with its error; closing the
        client (or its registry) before every job ended raises ``RuntimeError`` here, never a
        hang.
        """
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be positive (or None to wait indefinitely)")
        self._open()
        name = self._provider.name
        completions = Completions(
            self._registry,
            name,
            track=self._track,
            release=self._release,
            polls=self._polls_of,
            timeout=timeout,
            look_up=not self._lookups_shared,
            journaled=None if self._journal is None else self._journal.flush,
        )
        async with contextlib.aclosing(completions.outcomes(list(job_ids))) as outcomes:
            async for job_id, outcome, elapsed, polls in outcomes:
                assert isinstance(outcome, Resolution | FastwaitError)
                yield self._job_result(job_id, outcome, polls, elapsed)


def _is_http_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
