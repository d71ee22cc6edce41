"""The server half of the receiver benchmark, alone in a process of its own.

The load generator must not share the server's core, so each run starts this module fresh:
``python -m tests.benchmarks._receiver_server {bare,handwritten,receiver} [--stamp]`` prints its
URL and serves until SIGTERM. Every mode runs the same aiohttp runner with the access log off and
serves ``POST /hooks/{provider}``: ``receiver`` is :func:`fastwait.receiver.create_app` with a
verifier, a :class:`~fastwait.Registry` and one provider; ``handwritten`` is the handler a user
writes with the ``standardwebhooks`` package (verify, which also decodes the JSON, then resolve
the job's future); ``bare`` reads the body and answers 200.

The figures are the server's own bookkeeping, never the generator's. ``POST /_bench/arm``
(``{"ids": [...]}``, in batches: a body is at most 1 MiB) adds to the completions expected
and, for ``receiver`` and ``handwritten``, starts one task per job that is awaiting
``registry.wait(("compress", id))`` (``handwritten``: awaiting a future of its own) before the
route answers. A completion is a waiter waking (``receiver``, ``handwritten``) or a handled
request (``bare``); ``GET /_bench/stats`` gives the count and both clocks over the first to the
last of them, ``GET /_bench/latencies`` the webhook-to-waiter seconds of stamped requests.
With ``--stamp`` a middleware notes each request's ``X-Sent-At`` (the sender's
``time.time()``); the throughput runs go without it, so that the apps stay as they are.
``FASTWAIT_BENCH_LOOP=uvloop`` serves on uvloop; ``FASTWAIT_NO_SPEEDUPS=1`` keeps the receiver
on the standard library's JSON even when orjson is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, cast

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from fastwait import Registry, StandardWebhookVerifier
from fastwait.providers import ToolsFastCompress
from fastwait.receiver import create_app

__all__ = ["HOOK_PATH", "SECRET", "main", "message_id"]

SECRET: Final = "whsec_" + base64.b64encode(b"fastwait receiver benchmark key!").decode()
"""The benchmark's HMAC key (32 bytes), known to both processes; it guards nothing."""

HOOK_PATH: Final = "/hooks/compress"
_PROVIDER: Final = "compress"


def message_id(job_id: str) -> str:
    """The ``webhook-id`` of the one delivery of ``job_id``, so a waiter finds its stamp."""
    return f"msg_{job_id}"


class Bookkeeping:
    """Completions counted in the server, with both clocks at the first and the last one."""

    __slots__ = (
        "completed",
        "cpu_first",
        "cpu_last",
        "expected",
        "first",
        "last",
        "latencies",
        "sent_at",
        "waiters",
    )

    def __init__(self) -> None:
        self.expected = 0
        self.completed = 0
        self.first = self.last = self.cpu_first = self.cpu_last = 0.0
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.waiters: set[asyncio.Task[None]] = set()

    def complete_one(self) -> None:
        self.completed += 1
        if self.completed == 1:
            self.first, self.cpu_first = time.perf_counter(), time.process_time()
        if self.completed == self.expected:
            self.last, self.cpu_last = time.perf_counter(), time.process_time()

    def stats(self) -> dict[str, float]:
        return {
            "expected": self.expected,
            "completed": self.completed,
            "wall_seconds": self.last - self.first,
            "cpu_seconds": self.cpu_last - self.cpu_first,
        }


_BOOK: Final = web.AppKey("bench.bookkeeping", Bookkeeping)
_REGISTRY: Final = web.AppKey("bench.registry", Registry)
_FUTURES: Final = web.AppKey("bench.futures", dict[str, "asyncio.Future[object]"])
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _await_job(registry: Registry, job_id: str, book: Bookkeeping) -> None:
    await registry.wait((_PROVIDER, job_id))
    woke = time.time()
    book.complete_one()
    sent = book.sent_at.pop(message_id(job_id), None)
    if sent is not None:
        book.latencies.append(woke - sent)


async def _await_future(future: asyncio.Future[object], job_id: str, book: Bookkeeping) -> None:
    await future
    woke = time.time()
    book.complete_one()
    sent = book.sent_at.pop(message_id(job_id), None)
    if sent is not None:
        book.latencies.append(woke - sent)


async def _arm(request: web.Request) -> web.Response:
    book = request.app[_BOOK]
    ids = [str(job_id) for job_id in (await request.json())["ids"]]
    book.expected += len(ids)
    futures = request.app.get(_FUTURES)
    if futures is not None:
        loop = asyncio.get_running_loop()
        for job_id in ids:
            future = futures[job_id] = loop.create_future()
            task = asyncio.create_task(_await_future(future, job_id, book))
            book.waiters.add(task)
            task.add_done_callback(book.waiters.discard)
    registry = request.app.get(_REGISTRY)
    if registry is not None:
        for job_id in ids:
            task = asyncio.create_task(_await_job(registry, job_id, book))
            book.waiters.add(task)
            task.add_done_callback(book.waiters.discard)
        # The waiters run first (FIFO) and register before their first suspension; answering
        # only then means no webhook can beat its waiter.
        await asyncio.sleep(0)
        if not all(registry.waiters((_PROVIDER, job_id)) for job_id in ids):
            raise RuntimeError("a waiter did not register within one loop iteration")
    return web.json_response({"armed": len(ids)})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[_BOOK].stats())


async def _latencies(request: web.Request) -> web.Response:
    return web.json_response(request.app[_BOOK].latencies)


async def _bare_hook(request: web.Request) -> web.Response:
    await request.read()
    request.app[_BOOK].complete_one()
    return web.Response()


def _handwritten_hook(webhook: Webhook) -> _Handler:
    """What a user writes with ``standardwebhooks``: verify (and decode), resolve the future."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = webhook.verify(body, cast(dict[str, str], request.headers))
        except WebhookVerificationError:
            return web.Response(status=401)
        future = request.app[_FUTURES].pop(payload["id"], None)
        if future is not None and not future.done():
            future.set_result(payload)
        return web.Response()

    return receive


@web.middleware
async def _note_sent_at(request: web.Request, handler: _Handler) -> web.StreamResponse:
    sent = request.headers.get("X-Sent-At")
    if sent is not None:
        request.app[_BOOK].sent_at[request.headers.get("webhook-id", "")] = float(sent)
    return await handler(request)


async def _cancel_waiters(app: web.Application) -> None:
    waiters = tuple(app[_BOOK].waiters)
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


def _app(mode: str, registry: Registry, *, stamp: bool) -> web.Application:
    if mode == "receiver":
        provider = ToolsFastCompress("bench-key", "http://127.0.0.1:9")
        app = create_app(registry, [provider], verifier=StandardWebhookVerifier([SECRET]))
        app[_REGISTRY] = registry
    elif mode == "handwritten":
        app = web.Application()
        app.router.add_post("/hooks/{provider}", _handwritten_hook(Webhook(SECRET)))
        app[_FUTURES] = {}
    else:
        app = web.Application()
        app.router.add_post("/hooks/{provider}", _bare_hook)
    app[_BOOK] = Bookkeeping()
    app.on_shutdown.append(_cancel_waiters)
    app.router.add_post("/_bench/arm", _arm)
    app.router.add_get("/_bench/stats", _stats)
    app.router.add_get("/_bench/latencies", _latencies)
    if stamp:
        app.middlewares.append(_note_sent_at)
    return app


async def _serve(mode: str, *, stamp: bool) -> None:
    async with Registry() as registry:
        runner = web.AppRunner(_app(mode, registry, stamp=stamp), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            print(f"http://{host}:{port}", flush=True)
            await stop.wait()
        finally:
            await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks._receiver_server")
    parser.add_argument("mode", choices=("bare", "handwritten", "receiver"))
    parser.add_argument("--stamp", action="store_true", help="note X-Sent-At for latencies")
    args = parser.parse_args(argv)
    factory = None
    if os.environ.get("FASTWAIT_BENCH_LOOP") == "uvloop":  # as a service with the speed extra
        import uvloop

        factory = uvloop.new_event_loop
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(args.mode, stamp=args.stamp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
