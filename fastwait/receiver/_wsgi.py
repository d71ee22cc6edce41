"""The receiver as a WSGI application, for Flask, classic Django and any WSGI server.

``create_wsgi_app(sync_client, ...)`` answers the same routes with the same answers as the
aiohttp and ASGI apps: like them it only carries bytes to and from :class:`WebhookEndpoints`,
which decides every answer. The endpoints, and the registry they publish into, live on the
:class:`~fastwait.SyncClient`'s loop thread; this app hands them each request's head and body
there (:meth:`SyncClient.run <fastwait.SyncClient.run>`), so a waiter of the same process wakes
at once, and a waiter on any replica wakes when that registry is shared (``Registry(redis=...)``).

What stays here is WSGI's own: the request's head out of ``environ``, and ``wsgi.input`` read
in the server's thread the way the endpoints say (the declared ``CONTENT_LENGTH``, refused
unread when larger; a body without one only where the server says it ends,
``wsgi.input_terminated``, and never more than ``limit + 1`` bytes of it). WSGI gives an
application no deadline on its input, nor a way to close the connection: the 408 is answered
when the server's read times out (a server with a socket timeout raises ``TimeoutError``), and
slow senders are otherwise the server's to bound (waitress and gunicorn do).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from http import HTTPStatus
from typing import IO, Any, Final, TypeVar
from wsgiref.types import StartResponse, WSGIEnvironment

from fastwait._sync_client import SyncClient
from fastwait.providers import Provider
from fastwait.receiver._endpoints import Answer, PendingDelivery, WebhookEndpoints
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookReceiver
from fastwait.webhooks import CallbackBindings, CallbackTokens, StandardWebhookVerifier

__all__ = ["WebhookWSGIApp", "create_wsgi_app"]

T = TypeVar("T")

_READ_CHUNK: Final = 65536
_UNAVAILABLE: Final = Answer(503, b'{"error": "unavailable"}')
"""The answer once the client is closed: the sender retries later (another replica, say)."""
_HOP_BY_HOP: Final = frozenset({"connection"})
"""Headers a WSGI application may not send (PEP 3333); the server decides the connection."""


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
    return WebhookWSGIApp(client, WebhookEndpoints(receiver))


class WebhookWSGIApp:
    """The WSGI callable :func:`create_wsgi_app` returns; ``endpoints`` decide its answers."""

    __slots__ = ("_client", "endpoints")

    def __init__(self, client: SyncClient, endpoints: WebhookEndpoints) -> None:
        self._client = client
        self.endpoints = endpoints

    def __repr__(self) -> str:
        return f"WebhookWSGIApp({self.endpoints.receiver!r})"

    @property
    def receiver(self) -> WebhookReceiver:
        return self.endpoints.receiver

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        headers = _headers(environ)
        opened = self._on_loop(self.endpoints.open, method, path, headers)
        if isinstance(opened, PendingDelivery):
            try:
                body = _read_body(environ, opened)
            except Rejection as rejection:
                answer = self._on_loop(opened.refuse, rejection)
            except TimeoutError:
                answer = self._on_loop(opened.timed_out)
            else:
                answer = self._run(opened.accept(body))
        else:
            answer = opened
        return _respond(start_response, answer, head=method == "HEAD")

    def _on_loop(self, call: Callable[..., T], *args: object) -> T | Answer:
        """``call(*args)`` on the client's loop thread, where the endpoints and their events
        live (503 once the client is closed)."""

        async def on_loop() -> T:
            return call(*args)

        return self._run(on_loop())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T | Answer:
        try:
            return self._client.run(coroutine)
        except RuntimeError:  # the client is closed (the server is stopping)
            return _UNAVAILABLE


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's headers by lower-case name (WSGI folds repeated ones into one value)."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        value = environ.get(key)
        if value:
            headers[name] = value
    return headers


def _read_body(environ: WSGIEnvironment, delivery: PendingDelivery) -> bytes:
    """The body the way ``delivery`` says: its declared length (at most the limit, or the
    endpoints had refused it), else what a terminated input holds up to ``limit + 1`` bytes
    (413 past the limit). ``TimeoutError`` when the server's read times out."""
    stream: IO[bytes] = environ["wsgi.input"]
    if delivery.declared is not None:
        return _read_up_to(stream, delivery.declared)
    if not environ.get("wsgi.input_terminated"):
        return b""  # PEP 3333: without a length, the input may not be read
    body = _read_up_to(stream, delivery.limit + 1)
    delivery.add(body)
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


def _respond(start_response: StartResponse, answer: Answer, *, head: bool) -> list[bytes]:
    headers = [(name, value) for name, value in answer.headers if name.lower() not in _HOP_BY_HOP]
    headers.append(("Content-Length", str(len(answer.body))))
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
    return [] if head else [answer.body]
