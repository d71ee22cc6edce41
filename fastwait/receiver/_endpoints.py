"""The receiver's HTTP answers, apart from any HTTP framework: routes, checks, body limits.

An app for a framework (aiohttp's in ``_app.py``, the ASGI one in ``_asgi.py``, a WSGI one) only
moves bytes: it hands :class:`WebhookEndpoints` the method, the path under its mount point and
the headers, reads the body the way :class:`PendingDelivery` says, and sends the
:class:`Answer` it gets back. Everything a sender can observe is decided here, once, so the apps
cannot drift apart:

* the routes (``GET /healthz``, ``POST /hooks/{provider}``, ``POST /callbacks/{token}``): 404
  ``not_found`` for any other path, and for a route the receiver is not configured to serve; 405
  ``method_not_allowed`` (with ``Allow``) for another method;
* the order of the checks, cheapest first: the provider (404) or the callback token (401, 404)
  named by the URL, then the Content-Type (415), then the declared length (413), all before a
  byte of the body is read; then the body, read under ``max_body_bytes`` (413 as soon as it
  grows past it) within ``body_timeout`` seconds (408); then :class:`WebhookReceiver`'s
  decision on the bytes;
* the answers: their status, their JSON body (``{"status": ...}`` or ``{"error": code}``) and
  whether the connection is worth keeping (not after a 408 or 413: the unread rest of the
  body would have to be drained);
* the :class:`~fastwait.events.WebhookRefused` event of each refused delivery.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import HTTP
from typing import Final

import attrs

from fastwait.events import WebhookRefused, emit
from fastwait.exceptions import ConfigurationError
from fastwait.providers import Provider
from fastwait.receiver._receiver import Rejection, WebhookReceiver
from fastwait.webhooks import CallbackClaim

__all__ = ["DEFAULT_BODY_TIMEOUT", "Answer", "PendingDelivery", "WebhookEndpoints"]

DEFAULT_BODY_TIMEOUT: Final = 30.0
"""Seconds to receive a whole body: 1 MiB at 35 kB/s, far slower than any webhook sender."""

_UTF8: Final = frozenset({"utf-8", "utf8"})
_JSON_TYPE: Final = "application/json; charset=utf-8"


@attrs.frozen(cache_hash=True)  # apps look their encoded headers up by answer
class Answer:
    """What to send back: ``status``, the JSON ``body`` (bytes), and its headers.

    ``close`` asks the server to close the connection after it (a 408 or 413, whose unread
    body is not worth draining); ``allow`` is a 405's ``Allow`` header.
    """

    status: int
    body: bytes
    close: bool = False
    allow: str | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The response headers, names as sent; the server adds Content-Length and Date."""
        headers = [("Content-Type", _JSON_TYPE)]
        if self.allow is not None:
            headers.append(("Allow", self.allow))
        if self.close:
            headers.append(("Connection", "close"))
        return headers


def _json(value: Mapping[str, str]) -> bytes:
    return json.dumps(value).encode()


_OK: Final = Answer(200, _json({"status": "ok"}))
_OUTCOMES: Final = {
    outcome: Answer(200, _json({"status": outcome})) for outcome in ("accepted", "duplicate")
}
_NOT_FOUND: Final = Answer(404, _json({"error": "not_found"}))
_GET_ONLY: Final = Answer(405, _json({"error": "method_not_allowed"}), allow="GET, HEAD")
_POST_ONLY: Final = Answer(405, _json({"error": "method_not_allowed"}), allow="POST")
_BODY_TIMEOUT: Final = Rejection(408, "body_timeout")
_TOO_LARGE: Final = Rejection(413, "body_too_large")


@functools.cache
def _refusal(status: int, error: str) -> Answer:
    """``{"error": code}`` with its status; the codes are a fixed few, so each is built once."""
    return Answer(status, _json({"error": error}), close=status in (408, 413))


class _OctetStreamByDefault(EmailMessage):
    # RFC 9110: a body without a Content-Type may be taken as application/octet-stream.
    def __init__(self) -> None:
        super().__init__()
        self.set_default_type("application/octet-stream")


@functools.lru_cache(maxsize=64)
def _is_utf8_json(content_type: str | None) -> bool:
    """``application/json`` in any case, with no charset parameter or a UTF-8 one."""
    if content_type is None:
        return False
    message = HeaderParser(_OctetStreamByDefault, policy=HTTP).parsestr(
        f"Content-Type: {content_type}"
    )
    if message.get_content_type() != "application/json":
        return False
    charset = message.get_param("charset")
    return charset is None or (isinstance(charset, str) and charset.lower() in _UTF8)


def _declared_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        value = headers.get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def _content_type(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Content-Type")
    return headers.get("content-type") if value is None else value


class WebhookEndpoints:
    """The receiver's three routes over HTTP, for any framework; one per mounted receiver.

    ``body_timeout`` is the seconds a whole body may take to arrive (408 after that); the
    body limit is the receiver's ``max_body_bytes``. Raises :class:`ConfigurationError` for
    an unusable ``body_timeout``. Use it from the receiver's loop.

    An app calls :meth:`open` with a request's head; an :class:`Answer` is final, a
    :class:`PendingDelivery` says how to read the body and gives the answer to it. A server
    that holds the whole body already calls :meth:`answer`.
    """

    __slots__ = ("_hook", "body_timeout", "receiver")

    def __init__(
        self, receiver: WebhookReceiver, *, body_timeout: float = DEFAULT_BODY_TIMEOUT
    ) -> None:
        if isinstance(body_timeout, bool) or not (
            isinstance(body_timeout, int | float) and 0 < body_timeout < float("inf")
        ):
            raise ConfigurationError("body_timeout must be a positive number of seconds")
        self.receiver = receiver
        self.body_timeout = float(body_timeout)
        """Seconds to receive a whole body; an app answers :meth:`PendingDelivery.timed_out`
        after that."""
        self._hook = receiver.registry.on_event

    def __repr__(self) -> str:
        return f"WebhookEndpoints({self.receiver!r}, body_timeout={self.body_timeout:g})"

    def open(self, method: str, path: str, headers: Mapping[str, str]) -> Answer | PendingDelivery:
        """The answer to a request's head, or the delivery whose body is to be read.

        ``path`` is the decoded path under the mount point (``"/hooks/compress"``);
        ``headers`` a case-insensitive mapping (a ``multidict.CIMultiDict``, say) or one with
        the names in lower case.
        """
        if path == "/healthz":
            return self.healthz(method)
        kind, slash, segment = path[1:].partition("/")
        if not (path.startswith("/") and slash and segment) or "/" in segment:
            return _NOT_FOUND
        if kind == "hooks":
            return self.open_signed(method, segment, headers)
        if kind == "callbacks":
            return self.open_callback(method, segment, headers)
        return _NOT_FOUND

    def healthz(self, method: str) -> Answer:
        """``GET /healthz``: 200 ``{"status": "ok"}`` (a HEAD sends no body)."""
        return _OK if method in ("GET", "HEAD") else _GET_ONLY

    def open_signed(
        self, method: str, name: str, headers: Mapping[str, str]
    ) -> Answer | PendingDelivery:
        """``/hooks/{name}``: 404 unless served, 405, 404 unknown provider, 415, 413."""
        receiver = self.receiver
        if not receiver.accepts_signed:
            return _NOT_FOUND
        if method != "POST":
            return _POST_ONLY
        provider = receiver.providers.get(name)
        if provider is None:
            return self._refuse(None, Rejection(404, "unknown_provider"))
        return self._open(provider, None, headers)

    def open_callback(
        self, method: str, token: str, headers: Mapping[str, str]
    ) -> Answer | PendingDelivery:
        """``/callbacks/{token}``: 404 unless served, 405, 401 forged or 404 foreign token,
        415, 413; the token is checked before a byte of an anonymous body is read."""
        receiver = self.receiver
        if not receiver.accepts_callbacks:
            return _NOT_FOUND
        if method != "POST":
            return _POST_ONLY
        try:
            claim, provider = receiver.claim(token)
        except Rejection as rejection:
            return self._refuse(None, rejection)
        return self._open(provider, claim, headers)

    async def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        """The answer to a whole request, for a server that has read the body already.

        A body over the limit is refused (413) like one that grows past it while read.
        """
        opened = self.open(method, path, headers)
        if isinstance(opened, Answer):
            return opened
        try:
            opened.add(body)
        except Rejection as rejection:
            return opened.refuse(rejection)
        return await opened.accept(body)

    def _open(
        self, provider: Provider, claim: CallbackClaim | None, headers: Mapping[str, str]
    ) -> Answer | PendingDelivery:
        content_type = _content_type(headers)
        if content_type != "application/json" and not _is_utf8_json(content_type):
            return self._refuse(provider.name, Rejection(415, "unsupported_media_type"))
        declared = _declared_length(headers)
        if declared is not None and declared > self.receiver.max_body_bytes:
            return self._refuse(provider.name, _TOO_LARGE)
        return PendingDelivery(self, provider, claim, headers, declared)

    def _refuse(self, provider: str | None, rejection: Rejection) -> Answer:
        if self._hook is not None:
            emit(self._hook, WebhookRefused(provider, rejection.status, rejection.error))
        return _refusal(rejection.status, rejection.error)


class PendingDelivery:
    """A delivery whose head passed every check: read its body, then :meth:`accept` it.

    Read at most ``limit + 1`` bytes (``declared`` is the Content-Length, None when chunked)
    within :attr:`WebhookEndpoints.body_timeout` seconds; an app reading in chunks passes each
    to :meth:`add`, which refuses (413) as soon as they grow past the limit. Answer
    :meth:`refuse` to such a :class:`Rejection` and :meth:`timed_out` when time runs out.
    """

    __slots__ = ("_claim", "_endpoints", "_headers", "_provider", "_size", "declared", "limit")

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        provider: Provider,
        claim: CallbackClaim | None,
        headers: Mapping[str, str],
        declared: int | None,
    ) -> None:
        self._endpoints = endpoints
        self._provider = provider
        self._claim = claim
        self._headers = headers
        self._size = 0
        self.declared = declared
        self.limit = endpoints.receiver.max_body_bytes

    def add(self, chunk: bytes) -> None:
        """Count ``chunk`` of the body; :class:`Rejection` (413) once past the limit."""
        self._size += len(chunk)
        if self._size > self.limit:
            raise _TOO_LARGE

    async def accept(self, body: bytes) -> Answer:
        """The answer to the whole ``body`` (at most ``limit`` bytes), applied if authentic."""
        receiver = self._endpoints.receiver
        try:
            if self._claim is None:
                outcome = await receiver.accept_signed(self._provider, self._headers, body)
            else:
                outcome = await receiver.accept_callback(self._claim, self._provider, body)
        except Rejection as rejection:
            return self.refuse(rejection)
        answer = _OUTCOMES.get(outcome)
        return Answer(200, _json({"status": outcome})) if answer is None else answer

    def refuse(self, rejection: Rejection) -> Answer:
        """The answer to a body refused while read (413), with its event."""
        return self._endpoints._refuse(self._provider.name, rejection)

    def timed_out(self) -> Answer:
        """The answer to a body that did not arrive within ``body_timeout`` (408)."""
        return self.refuse(_BODY_TIMEOUT)
