"""At most ``limit`` connections at once, around an aiohttp server's protocol factory.

aiohttp serves every connection it accepts, so a crowd of slow or idle clients could hold a
file descriptor and a parser each until the process runs out. :class:`ConnectionLimit` wraps the
server's protocol factory: a connection within the limit is the server's own protocol, seen
through a thin wrapper that counts it out when it closes; one over the limit is answered
``503`` with ``Connection: close`` at once (webhook senders retry later) and closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

__all__ = ["ConnectionLimit"]

_OVERLOADED: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 23\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b'{"error": "overloaded"}'
)
_REFUSAL_LINGER: Final = 1.0
"""Seconds a refused connection stays half-open, so the client reads the 503 before the close
(closing with its request unread would reset the connection and lose the answer)."""


class ConnectionLimit:
    """A protocol factory admitting at most ``limit`` open connections from ``factory``.

    Pass it to ``loop.create_server``; :meth:`close` ends the refused connections still
    lingering (the admitted ones are the server's to close).
    """

    __slots__ = ("_factory", "_limit", "_open", "_refused")

    def __init__(self, factory: Callable[[], asyncio.Protocol], limit: int) -> None:
        self._factory = factory
        self._limit = limit
        self._open = 0
        self._refused: set[_Refused] = set()

    def __call__(self) -> asyncio.Protocol:
        if self._open >= self._limit:
            return _Refused(self._refused)
        self._open += 1
        return _Admitted(self._factory(), self._release)

    def _release(self) -> None:
        self._open -= 1

    def close(self) -> None:
        for refused in tuple(self._refused):
            refused.close()


class _Admitted(asyncio.Protocol):
    """The server's protocol, unchanged, plus one count when the connection is lost."""

    __slots__ = ("_inner", "_release")

    def __init__(self, inner: asyncio.Protocol, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
        self._inner.connection_lost(exc)


class _Refused(asyncio.Protocol):
    """Answers 503, stops writing, discards what the client sends, closes soon after."""

    __slots__ = ("_pending", "_timer", "_transport")

    def __init__(self, pending: set[_Refused]) -> None:
        self._pending = pending
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._pending.add(self)
        transport.write(_OVERLOADED)
        transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(_REFUSAL_LINGER, self.close)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not served; its bytes are read only to let the answer arrive

    def eof_received(self) -> bool:
        return False  # the client is done: close now

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._pending.discard(self)
        self._transport = None
