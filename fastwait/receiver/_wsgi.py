"""The receiver as a WSGI application, for Flask, classic Django and any WSGI server.

``create_wsgi_app(sync_client, ...)`` answers the same routes with the same checks and answers
as the aiohttp app (the table in :mod:`fastwait.receiver`): ``POST /hooks/{provider}``,
``POST /callbacks/{token}``, ``GET /healthz``, relative to where it is mounted (``PATH_INFO``).
What a delivery means is the :class:`WebhookReceiver`'s business, and it runs where the
registry lives: on the :class:`~fastwait.SyncClient`'s loop thread (:meth:`SyncClient.run
<fastwait.SyncClient.run>`), so a waiter of the same process wakes at once, and a waiter on
any replica wakes when that registry is shared (``Registry(redis=...)``).

This module owns only WSGI's HTTP: routing, the Content-Type check and reading ``wsgi.input``
under the limit (the declared ``CONTENT_LENGTH`` first, refused unread when larger; a body
without one is read only where the server says it ends, ``wsgi.input_terminated``, and never
more than ``limit + 1`` bytes of it). WSGI gives an application no deadline on its input: the
408 is answered when the server's read times out (a server with a socket timeout raises
``TimeoutError``); slow senders are otherwise the server's to bound (waitress and gunicorn do).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Coroutine, Iterable
from http import HTTPStatus
from typing import IO, Any, Final
from wsgiref.types import StartResponse, WSGIEnvironment

from fastwait._sync_client import SyncClient
from fastwait.events import EventHook, WebhookRefused, emit
from fastwait.providers import Provider
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookReceiver
from fastwait.webhooks import CallbackBindings, CallbackTokens, StandardWebhookVerifier

__all__ = ["WebhookWSGIApp", "create_wsgi_app"]

_UTF8: Final = frozenset({"utf-8", "utf8"})
_JSON_TYPE: Final = "application/json; charset=utf-8"
_HEALTH_METHODS: Final = ("GET", "HEAD")
_READ_CHUNK: Final = 65536


def create_wsgi_app(
    client: SyncClient,
    providers: Iterable[Provider] | None = None,
    *,
    verifier: StandardWebhookVerifier | None = None,
    callback_tokens: CallbackTokens | None = None,
    bindings: CallbackBindings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    dedupe_capacity: int = 100_000,
    keep_raw: bool = False,
) -> WebhookWSGIApp:
    """A WSGI application receiving webhooks into ``client``'s registry.

    ``providers`` default to the client's; ``bindings`` to the client's callback bindings (so
    the tokens of the jobs it submits are known). ``verifier`` enables ``/hooks/{provider}``,
    ``callback_tokens`` enables ``/callbacks/{token}`` (at least one is required);
    ``max_body_bytes``, ``dedupe_capacity`` and ``keep_raw`` are as for :func:`create_app`.
    Raises :class:`~fastwait.ConfigurationError` for an unusable configuration. Serve it with
    a threaded server (waitress, gunicorn with threads): each request blocks its thread while
    the client's loop applies the delivery.
    """
    receiver = WebhookReceiver(
        client.registry,
        [client.provider] if providers is None else providers,
        verifier=verifier,
        callback_tokens=callback_tokens,
        bindings=client.callback_bindings if bindings is None else bindings,
        max_body_bytes=max_body_bytes,
        dedupe_capacity=dedupe_capacity,
        keep_raw=keep_raw,
    )
    return WebhookWSGIApp(client, receiver)


class WebhookWSGIApp:
    """The WSGI callable :func:`create_wsgi_app` returns; ``receiver`` is its decision core."""

    __slots__ = ("_client", "_hook", "receiver")

    def __init__(self, client: SyncClient, receiver: WebhookReceiver) -> None:
        self._client = client
        self._hook: EventHook | None = receiver.registry.on_event
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"WebhookWSGIApp({self.receiver!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        _, route, *arguments = environ.get("PATH_INFO", "").split("/")
        receiver = self.receiver
        if route == "healthz" and not arguments:
            if method not in _HEALTH_METHODS:
                return _not_allowed(start_response, _HEALTH_METHODS)
            body = _dumps({"status": "ok"})
            return _respond(start_response, 200, body, head=method == "HEAD")
        served = (route == "hooks" and receiver.accepts_signed) or (
            route == "callbacks" and receiver.accepts_callbacks
        )
        if not served or len(arguments) != 1 or not arguments[0]:
            return _respond(start_response, 404, _dumps({"error": "not_found"}))
        if method != "POST":
            return _not_allowed(start_response, ("POST",))
        [argument] = arguments
        name: str | None = None
        try:
            if route == "hooks":
                name = argument if argument in receiver.providers else None
                provider = receiver.provider(argument)
                _require_json(environ)
                body = _read_body(environ, receiver.max_body_bytes)
                outcome = self._apply(receiver.accept_signed(provider, _headers(environ), body))
            else:
                # The token is in the URL: check it before reading a byte of an anonymous body.
                claim, provider = receiver.claim(argument)
                name = provider.name
                _require_json(environ)
                body = _read_body(environ, receiver.max_body_bytes)
                outcome = self._apply(receiver.accept_callback(claim, provider, body))
        except Rejection as rejection:
            self._refused(WebhookRefused(name, rejection.status, rejection.error))
            return _respond(start_response, rejection.status, _dumps({"error": rejection.error}))
        return _respond(start_response, 200, _dumps({"status": outcome}))

    def _apply(self, delivery: Coroutine[Any, Any, str]) -> str:
        """Run the receiver's coroutine on the client's loop; 503 once the client is closed."""
        try:
            return self._client.run(delivery)
        except RuntimeError:
            raise Rejection(503, "unavailable") from None

    def _refused(self, event: WebhookRefused) -> None:
        hook = self._hook
        if hook is None:
            return

        async def report() -> None:  # on the loop, where the registry's sources report from
            emit(hook, event)

        with contextlib.suppress(RuntimeError):  # the client is closed: nobody listens
            self._client.run(report())


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's headers by lower-case name (WSGI folds repeated ones into one value)."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _require_json(environ: WSGIEnvironment) -> None:
    """415 unless the body is declared ``application/json`` (a charset, if any, UTF-8)."""
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type == "application/json":
        return  # the usual header, accepted without parsing it
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        raise Rejection(415, "unsupported_media_type")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise Rejection(415, "unsupported_media_type")


def _read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The whole body if it is at most ``limit`` bytes: 413 as soon as it is known to be
    larger (unread when declared so), 408 when the server's read of it times out."""
    stream: IO[bytes] = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    try:
        if length:
            if not length.isdigit():
                raise Rejection(400, "invalid_content_length")
            declared = int(length)
            if declared > limit:
                raise Rejection(413, "body_too_large")
            return _read_up_to(stream, declared)
        if not environ.get("wsgi.input_terminated"):
            return b""  # PEP 3333: without a length, the input may not be read
        body = _read_up_to(stream, limit + 1)
    except TimeoutError:
        raise Rejection(408, "body_timeout") from None
    if len(body) > limit:
        raise Rejection(413, "body_too_large")
    return body


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """At most ``size`` bytes: fewer only at the end of the input (a sender that went away)."""
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _dumps(payload: dict[str, str]) -> bytes:
    return json.dumps(payload).encode()


def _respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    *,
    head: bool = False,
    allow: tuple[str, ...] = (),
) -> list[bytes]:
    headers = [("Content-Type", _JSON_TYPE), ("Content-Length", str(len(body)))]
    if allow:
        headers.append(("Allow", ", ".join(allow)))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [] if head else [body]


def _not_allowed(start_response: StartResponse, allowed: tuple[str, ...]) -> list[bytes]:
    body = _dumps({"error": "method_not_allowed"})
    return _respond(start_response, 405, body, allow=allowed)
