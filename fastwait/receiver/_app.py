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

This module owns only HTTP: the Content-Type check and reading the body under a hard limit
(the declared Content-Length first, then at most ``limit + 1`` bytes from the stream, so a lying
or chunked sender cannot make it buffer more) and a deadline (``body_timeout`` seconds for the
whole body, so a sender that trickles bytes or never ends its chunks gets 408 and is closed).
What a body means is the receiver's business.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import StreamReader, web
from multidict import CIMultiDict, CIMultiDictProxy

from fastwait.events import WebhookRefused, emit
from fastwait.exceptions import ConfigurationError
from fastwait.providers import Provider
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookReceiver
from fastwait.registry import Registry
from fastwait.webhooks import CallbackBindings, CallbackTokens, StandardWebhookVerifier

__all__ = ["DEFAULT_BODY_TIMEOUT", "RECEIVER_KEY", "create_app", "get_receiver", "setup"]

RECEIVER_KEY: Final = web.AppKey("fastwait.receiver", WebhookReceiver)

DEFAULT_BODY_TIMEOUT: Final = 30.0
"""Seconds to receive a whole body: 1 MiB at 35 kB/s, far slower than any webhook sender."""

_PREFIX: Final = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")
_UTF8: Final = frozenset({"utf-8", "utf8"})
# What web.json_response({"status": outcome}) would send, encoded once.
_OUTCOMES: Final = {
    outcome: json.dumps({"status": outcome}).encode() for outcome in ("accepted", "duplicate")
}
_JSON_HEADERS: Final = CIMultiDictProxy(
    CIMultiDict({"Content-Type": "application/json; charset=utf-8"})
)

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
    """A new application serving the receiver at its root; see :func:`setup` for the arguments."""
    app = web.Application()
    setup(
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
    )
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
    if RECEIVER_KEY in app:
        raise RuntimeError("the fastwait receiver is already set up on this application")
    if not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        raise ConfigurationError("prefix must be '' or a path like '/fastwait' (no trailing /)")
    if isinstance(body_timeout, bool) or not (
        isinstance(body_timeout, int | float) and 0 < body_timeout < float("inf")
    ):
        raise ConfigurationError("body_timeout must be a positive number of seconds")
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
    app[RECEIVER_KEY] = receiver
    app.router.add_get(f"{prefix}/healthz", _healthz)
    if receiver.accepts_signed:
        app.router.add_post(
            f"{prefix}/hooks/{{provider}}", _signed_handler(receiver, float(body_timeout))
        )
    if receiver.accepts_callbacks:
        app.router.add_post(
            f"{prefix}/callbacks/{{token}}", _callback_handler(receiver, float(body_timeout))
        )
    return receiver


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


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _signed_handler(receiver: WebhookReceiver, body_timeout: float) -> _Handler:
    hook = receiver.registry.on_event
    limit = receiver.max_body_bytes

    async def receive_signed(request: web.Request) -> web.Response:
        try:
            provider = receiver.provider(request.match_info["provider"])
            _require_json(request)
            body = await _read_body(request, limit, body_timeout)
            outcome = await receiver.accept_signed(provider, request.headers, body)
        except Rejection as rejection:
            if hook is not None:
                name = request.match_info["provider"]
                served = name if name in receiver.providers else None
                emit(hook, WebhookRefused(served, rejection.status, rejection.error))
            return _refuse(rejection)
        return _answer(outcome)

    return receive_signed


def _callback_handler(receiver: WebhookReceiver, body_timeout: float) -> _Handler:
    hook = receiver.registry.on_event

    async def receive_callback(request: web.Request) -> web.Response:
        provider: Provider | None = None
        try:
            # The token is in the URL: check it before reading a byte of an anonymous body.
            claim, provider = receiver.claim(request.match_info["token"])
            _require_json(request)
            body = await _read_body(request, receiver.max_body_bytes, body_timeout)
            outcome = await receiver.accept_callback(claim, provider, body)
        except Rejection as rejection:
            if hook is not None:
                name = None if provider is None else provider.name
                emit(hook, WebhookRefused(name, rejection.status, rejection.error))
            return _refuse(rejection)
        return _answer(outcome)

    return receive_callback


def _require_json(request: web.Request) -> None:
    """415 unless the body is declared ``application/json`` (a charset, if any, UTF-8)."""
    if request.headers.get("Content-Type") == "application/json":
        return  # the usual header, accepted without parsing it
    charset = request.charset
    if request.content_type != "application/json" or (
        charset is not None and charset.lower() not in _UTF8
    ):
        raise Rejection(415, "unsupported_media_type")


async def _read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The whole body if it is at most ``limit`` bytes and arrives within ``timeout`` seconds.

    413 as soon as it is known to be larger, 408 when the deadline passes first. Never holds
    more than ``limit + 1`` bytes. The unread rest is discarded by aiohttp.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Rejection(413, "body_too_large")
    stream = request.content
    if declared is not None and stream.is_eof():
        # The usual delivery: declared and already arrived whole. Taken without a coroutine
        # or a timer (aiohttp's parser never passes on more than the declared length).
        return stream.read_nowait(declared)
    try:
        async with asyncio.timeout(timeout):
            return await _read_limited(stream, declared, limit)
    except TimeoutError:
        raise Rejection(408, "body_timeout") from None


async def _read_limited(stream: StreamReader, declared: int | None, limit: int) -> bytes:
    chunk = await stream.read(limit + 1)
    if len(chunk) == declared:
        return chunk  # aiohttp's parser never passes on more than the declared length
    chunks = [chunk]
    size = len(chunk)
    while chunk:
        if size > limit:
            raise Rejection(413, "body_too_large")
        chunk = await stream.read(limit + 1 - size)
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _answer(outcome: str) -> web.Response:
    body = _OUTCOMES.get(outcome)
    if body is None:
        return web.json_response({"status": outcome})
    return web.Response(body=body, headers=_JSON_HEADERS)


def _refuse(rejection: Rejection) -> web.Response:
    response = web.json_response({"error": rejection.error}, status=rejection.status)
    if rejection.status in (408, 413):
        response.force_close()  # the rest of the body is not worth keeping the connection for
    return response
