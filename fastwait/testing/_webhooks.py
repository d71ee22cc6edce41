"""Webhook delivery: one scheduler task over a heap of due times, a few delivery workers.

A job with a callback URL is pushed on the heap at its terminal time (pushed again, earlier,
if it is canceled). The scheduler sleeps until the earliest due time or until woken by a new
entry, renders the body of every due job at that moment (exactly its status JSON), and queues
one message per job (two identical ones for a duplicate, none for a drop). A fixed set of
workers POSTs the queue through the fake's single ``aiohttp.ClientSession``, so a slow receiver
delays other webhooks only once all workers are busy. Outcomes are recorded, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import string
from collections.abc import Callable
from typing import Final, NamedTuple

import aiohttp
import attrs

from fastwait.testing._jobs import FakeJob, terminal_time
from fastwait.webhooks._signatures import StandardWebhookSigner

__all__ = ["WebhookDelivery", "WebhookScheduler"]

_ID_ALPHABET: Final = string.ascii_letters + string.digits


class WebhookDelivery(NamedTuple):
    """One webhook POST: the job's provider and id, the URL, and the HTTP status the receiver
    answered, or the exception's class name when there was no answer (``"ClientConnectorError"``,
    ``"TimeoutError"``)."""

    provider: str
    job_id: str
    url: str
    result: int | str


@attrs.frozen
class _Message:
    job: FakeJob
    url: str
    msg_id: str
    body: bytes


class WebhookScheduler:
    """Delivers each scheduled job's webhook once, at its terminal time.

    ``render(job, now)`` returns the body (the job's status JSON at ``now``); ``signer`` signs
    the webhooks of every API but those ``unsigned`` names (media's are never signed). Times are in
    ``clock`` units, assumed to be seconds; with a hand-driven clock call :meth:`flush`.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        render: Callable[[FakeJob, float], bytes],
        rng: random.Random,
        signer: StandardWebhookSigner | None = None,
        unsigned: frozenset[str] = frozenset({"media"}),
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        workers: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self._clock = clock
        self._render = render
        self._rng = rng
        self._signer = signer
        self._unsigned = unsigned
        self._drop_rate = drop_rate
        self._duplicate_rate = duplicate_rate
        self._worker_count = workers
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._heap: list[tuple[float, int, FakeJob]] = []
        self._sequence = 0
        self._handled: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[_Message] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.deliveries: list[WebhookDelivery] = []
        self.sent = 0
        self.dropped = 0

    def schedule(self, job: FakeJob) -> None:
        """Deliver ``job``'s webhook at its terminal time (now, if it was just canceled)."""
        if job.callback_url is None:
            return
        self._sequence += 1
        heapq.heappush(self._heap, (terminal_time(job), self._sequence, job))
        self._wake.set()

    def start(self, session: aiohttp.ClientSession) -> None:
        """Start the scheduler and the workers; call from the running event loop."""
        if self._tasks:
            raise RuntimeError("the webhook scheduler is already running")
        self._session = session
        self._tasks.append(asyncio.create_task(self._run(), name="fake-webhook-scheduler"))
        self._tasks.extend(
            asyncio.create_task(self._work(), name=f"fake-webhook-worker-{n}")
            for n in range(self._worker_count)
        )

    async def aclose(self) -> None:
        """Cancel and await the scheduler and workers; undelivered webhooks are discarded."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def flush(self) -> None:
        """Queue every webhook due by the clock now and wait until all queued ones were sent."""
        if not self._tasks:
            raise RuntimeError("the webhook scheduler is not running")
        self._queue_due()
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._queue_due()
            delay = self._heap[0][0] - self._clock() if self._heap else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _queue_due(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            _, _, job = heapq.heappop(self._heap)
            key = (job.provider, job.id)
            if key in self._handled or job.deleted or job.callback_url is None:
                continue
            self._handled.add(key)
            if self._drop_rate and self._rng.random() < self._drop_rate:
                self.dropped += 1
                continue
            message = _Message(job, job.callback_url, self._new_msg_id(), self._render(job, now))
            self._queue.put_nowait(message)
            if self._duplicate_rate and self._rng.random() < self._duplicate_rate:
                self._queue.put_nowait(message)

    def _new_msg_id(self) -> str:
        return "msg_" + "".join(self._rng.choices(_ID_ALPHABET, k=27))

    async def _work(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._deliver(message)
            finally:
                self._queue.task_done()

    async def _deliver(self, message: _Message) -> None:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        result: int | str
        try:
            if self._signer is not None and message.job.provider not in self._unsigned:
                headers.update(self._signer.headers(message.msg_id, message.body))
            self.sent += 1
            async with self._session.post(
                message.url, data=message.body, headers=headers, timeout=self._timeout
            ) as response:
                await response.read()
                result = response.status
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure is the receiver's problem, recorded not raised
            result = type(exc).__name__
        self.deliveries.append(
            WebhookDelivery(message.job.provider, message.job.id, message.url, result)
        )
