"""The receiver as a pure ASGI application: mount it in FastAPI, Starlette, Litestar or Django.

``create_asgi_app(registry, providers, ...)`` returns an ASGI 3 callable with no framework
behind it, serving the same routes with the same answers as the aiohttp app (both carry bytes
to and from one :class:`WebhookEndpoints`). Mount it where the service already runs, e.g.
``app.mount("/fastwait", create_asgi_app(...))``: it answers paths under its ``root_path``.

It owns nothing that needs starting. The registry it publishes into is the caller's: build it
(and the :class:`~fastwait.Client` that shares it) when the module is imported, enter them in
the host application's lifespan and close them there, so every endpoint that does
``await client.wait(job_id)`` is woken by the deliveries this app receives. Run alone under an
ASGI server, it acknowledges the lifespan protocol and does nothing with it.

The server is the host's, so are its limits: the header timeout and a cap on connections
(``fastwait.receiver.serve`` has both; uvicorn has ``--timeout-keep-alive`` and
``--limit-concurrency``). The body limit and deadline are the app's own, as in aiohttp's.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from multidict import CIMultiDict

from fastwait.providers import Provider
from fastwait.receiver._endpoints import (
    DEFAULT_BODY_TIMEOUT,
    Answer,
    PendingDelivery,
    WebhookEndpoints,
)
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookReceiver
from fastwait.registry import Registry
from fastwait.webhooks import CallbackBindings, CallbackTokens, StandardWebhookVerifier

__all__ = ["AsgiReceiver", "create_asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def create_asgi_app(
    registry: Registry,
    providers: Iterable[Provider],
    *,
    verifier: StandardWebhookVerifier | None = None,
    callback_tokens: CallbackTokens | None = None,
    bindings: CallbackBindings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    dedupe_capacity: int = 100_000,
    keep_raw: bool = False,
) -> AsgiReceiver:
    """An ASGI application serving the receiver under its mount point.

    The arguments are :func:`~fastwait.receiver.setup`'s: ``verifier`` enables
    ``/hooks/{provider}``, ``callback_tokens`` enables ``/callbacks/{token}`` (at least one is
    required), ``bindings`` may be shared with the client, ``max_body_bytes`` and
    ``body_timeout`` bound a body's size and the seconds it may take (413, 408),
    ``dedupe_capacity`` the remembered ``webhook-id`` values, and ``keep_raw`` keeps each
    body's JSON as ``JobStatus.raw``. Raises :class:`ConfigurationError` for bad arguments.
    May be called before any event loop runs (at import); serve it from the registry's loop.
    """
    receiver = WebhookReceiver(
        registry,
        providers,
        verifier=verifier,
        callback_tokens=callback_tokens,
        bindings=bindings,
        max_body_bytes=max_body_bytes,
        dedupe_capacity=dedupe_capacity,
        keep_raw=keep_raw,
    )
    return AsgiReceiver(WebhookEndpoints(receiver, body_timeout=body_timeout))


class AsgiReceiver:
    """The receiver's routes as an ASGI 3 application; made by :func:`create_asgi_app`."""

    __slots__ = ("endpoints",)

    def __init__(self, endpoints: WebhookEndpoints) -> None:
        self.endpoints = endpoints
        """What decides every answer (shared with nothing else)."""

    def __repr__(self) -> str:
        return f"AsgiReceiver({self.endpoints.receiver!r})"

    @property
    def receiver(self) -> WebhookReceiver:
        """The decision core: its ``bindings`` are for the client that submits the jobs."""
        return self.endpoints.receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # not a route of ours
        else:
            raise ValueError(f"the fastwait receiver serves no {kind!r} connections")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        headers = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        )
        opened = self.endpoints.open(method, _path_under_mount(scope), headers)
        if isinstance(opened, PendingDelivery):
            try:
                async with asyncio.timeout(self.endpoints.body_timeout):
                    body = await _read_body(receive, opened)
            except TimeoutError:
                answer = opened.timed_out()
            except Rejection as rejection:
                answer = opened.refuse(rejection)
            else:
                if body is None:
                    return  # the sender is gone: nobody to answer
                answer = await opened.accept(body)
        else:
            answer = opened
        await send(_response_start(answer))
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else answer.body})


def _path_under_mount(scope: Scope) -> str:
    """The path below ``root_path``: frameworks that mount an app pass either the whole path
    (Starlette, uvicorn's ``--root-path``) or the rest of it; both leave ``root_path`` set."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


async def _read_body(receive: Receive, delivery: PendingDelivery) -> bytes | None:
    """The whole body, each chunk counted against the limit; None if the sender left."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        delivery.add(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _response_start(answer: Answer) -> Message:
    # A new list each time: a host's middleware may add headers to it in place.
    headers = list(_encoded_headers(answer))
    return {"type": "http.response.start", "status": answer.status, "headers": headers}


@functools.lru_cache(maxsize=64)
def _encoded_headers(answer: Answer) -> tuple[tuple[bytes, bytes], ...]:
    # The answers are a fixed few: each one's headers are encoded once.
    headers = [(name.encode(), value.encode()) for name, value in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    return tuple(headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: the registry is started and closed by its owner."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
