"""The ASGI benchmark's server: ``python -m tests.benchmarks._asgi_server MODE [--stamp]``, uvicorn.

Prints ``http://127.0.0.1:PORT`` once listening and serves until SIGTERM. ``MODE`` is what
answers ``POST /hooks/compress``:

* ``receiver``: fastwait's pure ASGI app, ``create_asgi_app(...)``, served as it is;
* ``handwritten``: a FastAPI app with the route a user writes with ``standardwebhooks``
  (read the body, verify and decode it, resolve the future the job's waiter awaits).
* ``mounted``: the same receiver mounted at ``/fastwait`` in a FastAPI app, as the recipes
  do; the front sends ``/hooks/...`` there as ``/fastwait/hooks/...``, so every mode is sent
  the same bytes.

Both share the control routes of :mod:`tests.benchmarks._receiver_server` (``POST
/_bench/arm``, ``GET /_bench/stats``, ``GET /_bench/latencies``), served by a small ASGI
dispatcher in front of either app that sends every other path on untouched; with ``--stamp``
it also notes each request's ``X-Sent-At`` for the latency runs. The front is the same code in
both modes, so it costs both the same. uvicorn runs with ``httptools`` when it is installed
(as ``uvicorn[standard]`` does), else ``h11``, with no access log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from fastwait import Registry, StandardWebhookVerifier
from fastwait.providers import ToolsFastCompress
from fastwait.receiver import create_asgi_app

from ._receiver_server import SECRET, Bookkeeping, message_id

__all__ = ["HTTP_IMPLEMENTATION", "main"]

_PROVIDER: Final = "compress"

HTTP_IMPLEMENTATION: Final = "httptools" if importlib.util.find_spec("httptools") else "h11"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Bench:
    """The control routes and the completions they count (the waiters are ours)."""

    def __init__(
        self, registry: Registry | None, futures: dict[str, asyncio.Future[object]] | None
    ) -> None:
        self.book = Bookkeeping()
        self.registry = registry
        self.futures = futures

    async def _woke(self, awaited: Awaitable[object], job_id: str) -> None:
        await awaited
        woke = time.time()
        self.book.complete_one()
        sent = self.book.sent_at.pop(message_id(job_id), None)
        if sent is not None:
            self.book.latencies.append(woke - sent)

    def _start(self, awaited: Awaitable[object], job_id: str) -> None:
        task = asyncio.ensure_future(self._woke(awaited, job_id))
        self.book.waiters.add(task)
        task.add_done_callback(self.book.waiters.discard)

    async def arm(self, ids: list[str]) -> None:
        self.book.expected += len(ids)
        if self.futures is not None:
            loop = asyncio.get_running_loop()
            for job_id in ids:
                future = self.futures[job_id] = loop.create_future()
                self._start(future, job_id)
        if self.registry is not None:
            registry = self.registry
            for job_id in ids:
                self._start(registry.wait((_PROVIDER, job_id)), job_id)
            await asyncio.sleep(0)  # each waiter registers before its first suspension
            if not all(registry.waiters((_PROVIDER, job_id)) for job_id in ids):
                raise RuntimeError("a waiter did not register within one loop iteration")

    async def control(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/_bench/arm":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            ids = [str(job_id) for job_id in json.loads(body)["ids"]]
            await self.arm(ids)
            answer: Any = {"armed": len(ids)}
        elif path == "/_bench/stats":
            answer = self.book.stats()
        else:
            answer = self.book.latencies
        payload = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def cancel_waiters(self) -> None:
        waiters = tuple(self.book.waiters)
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def front(app: App, bench: Bench, *, stamp: bool) -> App:
    """The control routes, and ``X-Sent-At`` noted when stamping; everything else to ``app``."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"].startswith("/_bench/"):
                await bench.control(scope, receive, send)
                return
            if stamp:
                headers = dict(scope["headers"])
                sent = headers.get(b"x-sent-at")
                if sent is not None:
                    msg_id = headers.get(b"webhook-id", b"").decode()
                    bench.book.sent_at[msg_id] = float(sent)
        await app(scope, receive, send)

    return dispatch


def mounted(receiver: App) -> App:
    """A FastAPI app with ``receiver`` at ``/fastwait``, reached as ``/hooks/...``."""
    app = FastAPI()
    app.mount("/fastwait", receiver)

    async def rewrite(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {
                **scope,
                "path": "/fastwait" + scope["path"],
                "raw_path": b"/fastwait" + scope["raw_path"],
            }
        await app(scope, receive, send)

    return rewrite


def handwritten_app(futures: dict[str, asyncio.Future[object]]) -> FastAPI:
    """The route a FastAPI user writes with ``standardwebhooks``."""
    webhook = Webhook(SECRET)
    app = FastAPI()

    @app.post("/hooks/{provider}")
    async def receive(provider: str, request: Request) -> Response:
        body = await request.body()
        try:
            payload = webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=401)
        future = futures.pop(payload["id"], None)
        if future is not None and not future.done():
            future.set_result(payload)
        return Response()

    return app


async def _serve(mode: str, *, stamp: bool) -> None:
    async with Registry() as registry:
        if mode in ("receiver", "mounted"):
            provider = ToolsFastCompress("bench-key", "http://127.0.0.1:9")
            app: App = create_asgi_app(
                registry, [provider], verifier=StandardWebhookVerifier([SECRET])
            )
            if mode == "mounted":
                app = mounted(app)
            bench = Bench(registry, None)
        else:
            futures: dict[str, asyncio.Future[object]] = {}
            app = handwritten_app(futures)
            bench = Bench(None, futures)
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it a response written in two parts waits for a delayed ACK (40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
        config = uvicorn.Config(
            front(app, bench, stamp=stamp),
            lifespan="off",
            access_log=False,
            log_level="warning",
            http=HTTP_IMPLEMENTATION,
            loop="asyncio",
            backlog=2048,
        )
        server = uvicorn.Server(config)
        host, port = sock.getsockname()[:2]
        print(f"http://{host}:{port}", flush=True)
        try:
            await server.serve(sockets=[sock])
        finally:
            await bench.cancel_waiters()
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks._asgi_server")
    parser.add_argument("mode", choices=("handwritten", "receiver", "mounted"))
    parser.add_argument("--stamp", action="store_true", help="note X-Sent-At for latencies")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.mode, stamp=args.stamp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
