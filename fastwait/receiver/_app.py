"""The receiver as aiohttp routes: a standalone app, or routes added to the caller's app.

Two ways in, both with the same routes (``POST /hooks/{provider}``, ``POST /callbacks/{token}``,
``GET /healthz``):

* ``create_app(registry, providers, ...)`` builds an application of its own, to run alone or to
  mount with ``parent.add_subapp("/fastwait", create_app(...))``;
* ``setup(app, registry, providers, ..., prefix="/fastwait")`` adds the routes to an existing
  application, so they share its middlewares and server.

Either way the :class:`WebhookReceiver` lives under a typed :class:`web.AppKey` and
:func:`get_receiver` returns it (to share its nonce bindings with a client, say). A route is
registered only when it can succeed: without a verifier ``/hooks/*`` is 404, without callback
tokens ``/callbacks/*`` is 404, so an unconfigured path looks like no path at all.

This module only moves bytes between aiohttp and :class:`WebhookEndpoints`, which decides every
answer (the same as the ASGI app's): it reads the body the way a :class:`PendingDelivery` says
(at most ``limit + 1`` bytes from the stream, so a lying or chunked sender cannot make it
buffer more, within ``body_timeout`` seconds, so a sender that trickles bytes or never ends its
chunks gets 408) and closes the connection after an answer that asks it to.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import StreamReader, web
from multidict import CIMultiDict, CIMultiDictProxy

from fastwait.exceptions import ConfigurationError
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

__all__ = ["RECEIVER_KEY", "create_app", "get_receiver", "setup"]

RECEIVER_KEY: Final = web.AppKey("fastwait.receiver", WebhookReceiver)

_PREFIX: Final = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
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
) -> web.Application:
    """A new application serving the receiver at its root; see :func:`setup` for the arguments.

    Every other path of it is answered 404 ``{"error": "not_found"}``, like the ASGI app's.
    """
    app = web.Application()
    endpoints = _setup(
        app,
        registry,
        providers,
        verifier=verifier,
        callback_tokens=callback_tokens,
        bindings=bindings,
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
        dedupe_capacity=dedupe_capacity,
        keep_raw=keep_raw,
        prefix="",
    )
    app.router.add_route("*", "/{path:.*}", _other_path_handler(endpoints))
    return app


def setup(
    app: web.Application,
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
    prefix: str = "",
) -> WebhookReceiver:
    """Add the receiver's routes to ``app`` under ``prefix`` (``""`` or like ``"/fastwait"``).

    ``verifier`` enables ``/hooks/{provider}``, ``callback_tokens`` enables
    ``/callbacks/{token}`` (at least one is required); ``bindings`` may be shared with the
    client. ``max_body_bytes`` bounds a body and ``body_timeout`` the seconds to receive it
    (408 after that); ``dedupe_capacity`` bounds the remembered ``webhook-id`` values;
    ``keep_raw`` keeps each body's JSON as ``JobStatus.raw``. Call it before the app starts,
    once per app. Raises :class:`ConfigurationError` for bad arguments and
    :class:`RuntimeError` when called twice.
    """
    return _setup(
        app,
        registry,
        providers,
        verifier=verifier,
        callback_tokens=callback_tokens,
        bindings=bindings,
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
        dedupe_capacity=dedupe_capacity,
        keep_raw=keep_raw,
        prefix=prefix,
    ).receiver


def _setup(
    app: web.Application,
    registry: Registry,
    providers: Iterable[Provider],
    *,
    verifier: StandardWebhookVerifier | None,
    callback_tokens: CallbackTokens | None,
    bindings: CallbackBindings | None,
    max_body_bytes: int,
    body_timeout: float,
    dedupe_capacity: int,
    keep_raw: bool,
    prefix: str,
) -> WebhookEndpoints:
    if RECEIVER_KEY in app:
        raise RuntimeError("the fastwait receiver is already set up on this application")
    if not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        raise ConfigurationError("prefix must be '' or a path like '/fastwait' (no trailing /)")
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
    endpoints = WebhookEndpoints(receiver, body_timeout=body_timeout)
    app[RECEIVER_KEY] = receiver
    # Every method reaches the handlers, so that the endpoints answer 405 as in every other
    # framework. A route the receiver is not configured to serve is not added: in the
    # caller's app it stays free, and create_app's catch-all answers it as the endpoints do.
    app.router.add_route("*", f"{prefix}/healthz", _healthz_handler(endpoints))
    if receiver.accepts_signed:
        signed = _signed_handler(endpoints)
        app.router.add_route("*", f"{prefix}/hooks/{{provider:[^/]+}}", signed)
    if receiver.accepts_callbacks:
        callback = _callback_handler(endpoints)
        app.router.add_route("*", f"{prefix}/callbacks/{{token:[^/]+}}", callback)
    return endpoints


def get_receiver(app: web.Application) -> WebhookReceiver:
    """The receiver set up on ``app``; RuntimeError if :func:`setup` was not called on it.

    For a receiver mounted with ``add_subapp``, pass the sub-application.
    """
    try:
        return app[RECEIVER_KEY]
    except KeyError:
        raise RuntimeError(
            "no fastwait receiver on this application: call receiver.setup(app, ...) first"
            " (or pass the sub-application create_app() returned)"
        ) from None


# --- handlers -----------------------------------------------------------------------------


def _healthz_handler(endpoints: WebhookEndpoints) -> _Handler:
    async def healthz(request: web.Request) -> web.Response:
        return _response(endpoints.healthz(request.method))

    return healthz


def _other_path_handler(endpoints: WebhookEndpoints) -> _Handler:
    async def other_path(request: web.Request) -> web.Response:
        answer = endpoints.open(request.method, request.path, request.headers)
        if isinstance(answer, Answer):
            return _response(answer)
        raise RuntimeError(f"{request.path} is a receiver route the router did not match")

    return other_path


def _signed_handler(endpoints: WebhookEndpoints) -> _Handler:
    async def receive_signed(request: web.Request) -> web.Response:
        opened = endpoints.open_signed(
            request.method, request.match_info["provider"], request.headers
        )
        return await _deliver(request, opened, endpoints.body_timeout)

    return receive_signed


def _callback_handler(endpoints: WebhookEndpoints) -> _Handler:
    async def receive_callback(request: web.Request) -> web.Response:
        opened = endpoints.open_callback(
            request.method, request.match_info["token"], request.headers
        )
        return await _deliver(request, opened, endpoints.body_timeout)

    return receive_callback


async def _deliver(
    request: web.Request, opened: Answer | PendingDelivery, timeout: float
) -> web.Response:
    if isinstance(opened, Answer):
        return _response(opened)
    stream = request.content
    if opened.declared is not None and stream.is_eof():
        # The usual delivery: declared and already arrived whole. Taken without a coroutine
        # or a timer (aiohttp's parser never passes on more than the declared length).
        body = stream.read_nowait(opened.declared)
    else:
        try:
            async with asyncio.timeout(timeout):
                body = await _read_limited(stream, opened)
        except TimeoutError:
            return _response(opened.timed_out())
        except Rejection as rejection:
            return _response(opened.refuse(rejection))
    return _response(await opened.accept(body))


async def _read_limited(stream: StreamReader, delivery: PendingDelivery) -> bytes:
    """The body, read in chunks of at most what keeps it within ``limit + 1`` bytes."""
    limit = delivery.limit
    chunk = await stream.read(limit + 1)
    delivery.add(chunk)
    if len(chunk) == delivery.declared:
        return chunk  # aiohttp's parser never passes on more than the declared length
    chunks = [chunk]
    size = len(chunk)
    while chunk:
        chunk = await stream.read(limit + 1 - size)
        delivery.add(chunk)
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=64)
def _headers_of(answer: Answer) -> CIMultiDictProxy[str]:
    # The answers are a fixed few: their headers are built once, not per response.
    return CIMultiDictProxy(CIMultiDict(answer.headers))


def _response(answer: Answer) -> web.Response:
    response = web.Response(status=answer.status, body=answer.body, headers=_headers_of(answer))
    if answer.close:
        response.force_close()  # the rest of the body is not worth keeping the connection for
    return response
