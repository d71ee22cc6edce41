"""Run an aiohttp application on a TCP port for as long as a ``with`` block lasts.

The standalone receiver service (the repository's ``receiver/``) and the fastwait CLI
(``fastwait receive``, ``fastwait wait --listen``) share this, so binding, the URL they print and
shutdown behave the same everywhere. Port 0 asks the OS for a free port; the yielded URL names
the one bound.

The access log never shows a callback token: ``/callbacks/{token}`` URLs are credentials, so
the path is logged with the token replaced. Nor does the error log: a request aiohttp cannot
parse is the client's error, said in one line naming only its kind (aiohttp's own text quotes
the raw request line) and rate-limited, without a traceback, so nobody can flood the log.

Slow clients are not kept: a connection must send a complete request head within
``header_timeout`` seconds of opening or of its previous response, at most ``max_connections``
are open at once (the next ones get 503), and a request body the app did not read is drained for
at most a second before the connection closes. The body's own deadline is the app's
(``create_app(..., body_timeout=...)``), since an app mounted elsewhere needs it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator, MutableMapping
from typing import Any, Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from fastwait._notices import RateLimitedNotice
from fastwait.exceptions import ConfigurationError
from fastwait.receiver._connections import ConnectionLimit

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "RedactingAccessLogger",
    "serve",
    "serve_until_stopped",
]

log = logging.getLogger("fastwait.receiver")

_TOKEN_IN_PATH: Final = re.compile(r"/callbacks/[^/?#]+")

DEFAULT_HEADER_TIMEOUT: Final = 15.0
"""Seconds a connection may take to send a request head (and may stay idle between requests)."""
DEFAULT_MAX_CONNECTIONS: Final = 512
"""Connections served at once; well under the usual limit of 1,024 open files per process."""
_LINGER: Final = 1.0
"""Seconds an unread request body is drained after the answer, so the client can read it."""


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request: remote, method, path (callback tokens hidden), status, seconds.

    Like aiohttp's own access logger it is enabled only while its logger takes INFO records,
    so with logging off aiohttp skips it (and its timing) for every request.
    """

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = _TOKEN_IN_PATH.sub("/callbacks/<token>", request.path)
        self.logger.info(
            '%s "%s %s" %d %.3fs', request.remote, request.method, path, response.status, time
        )


class _ServerErrorLog(logging.LoggerAdapter[logging.Logger]):
    """The log aiohttp's server writes its errors to (``aiohttp.server`` otherwise).

    A request it could not parse (an :class:`HttpProcessingError`: bare-LF line endings, a
    bad header, an unknown version) is said as one line of :data:`log`, rate-limited, naming
    the client's address and the kind of error: aiohttp's own record quotes the raw request
    line (a callback token included) with a traceback, for every such request. Any other
    record (a bug in a handler) goes to ``aiohttp.server`` unchanged.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"))
        self._malformed = RateLimitedNotice(log)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = sys.exc_info()[1] if exc_info is True else exc_info
        if isinstance(error, HttpProcessingError):
            remote = args[0] if args else "a client"
            self._malformed.say(
                "refused a malformed request from %s (%s)", remote, type(error).__name__
            )
            return
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


@contextlib.asynccontextmanager
async def serve(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    shutdown_timeout: float = 10.0,
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host``:``port`` and yield its base URL (``http://127.0.0.1:41234``).

    A connection that has not sent a complete request head ``header_timeout`` seconds after it
    opened or after its previous response is closed; beyond ``max_connections`` open at once,
    new ones are answered 503 and closed. Leaving the block stops accepting, gives requests in
    progress up to ``shutdown_timeout`` seconds, and runs the app's cleanup. Signals are the
    caller's business. Raises :class:`ConfigurationError` for a bad setting.
    """
    if isinstance(header_timeout, bool) or not (
        isinstance(header_timeout, int | float) and 0 < header_timeout < float("inf")
    ):
        raise ConfigurationError("header_timeout must be a positive number of seconds")
    if isinstance(max_connections, bool) or not (
        isinstance(max_connections, int) and max_connections >= 1
    ):
        raise ConfigurationError("max_connections must be a whole number, at least 1")
    runner = web.AppRunner(
        app,
        access_log_class=RedactingAccessLogger,
        shutdown_timeout=shutdown_timeout,
        # aiohttp closes a connection that has no complete request this long after it opened
        # or after its last response: that is the header timeout, and the idle timeout too.
        keepalive_timeout=float(header_timeout),
        lingering_time=_LINGER,
        logger=_ServerErrorLog(),
    )
    await runner.setup()
    site: _LimitedSite | None = None
    try:
        site = _LimitedSite(runner, host, port, max_connections)
        await site.start()
        yield _url(runner.addresses[0])
    finally:
        await runner.cleanup()
        if site is not None:
            site.close_refused()


class _LimitedSite(web.BaseSite):
    """aiohttp's TCP site, with the server's protocol factory behind a :class:`ConnectionLimit`."""

    __slots__ = ("_host", "_limit", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, max_connections: int) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        server = runner.server
        assert server is not None  # runner.setup() ran
        self._limit = ConnectionLimit(server, max_connections)

    @property
    def name(self) -> str:
        return _url((self._host, self._port))

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._limit, self._host, self._port, backlog=self._backlog
        )

    def close_refused(self) -> None:
        """Close the refused connections still lingering (the server closes the others)."""
        self._limit.close()


def _url(address: object) -> str:
    """``http://host:port`` for a socket name: (host, port) or IPv6 (host, port, flow, scope)."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), int(address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    raise RuntimeError(f"the server is not bound to a TCP address: {address!r}")


async def serve_until_stopped(
    app: web.Application,
    host: str,
    port: int,
    *,
    label: str = "",
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, logging the URL bound (and ``label``) and the stop.

    The one loop the standalone receiver and ``fastwait receive`` both run: a service manager's
    SIGTERM ends it cleanly (requests in flight finish, the app's cleanup runs), exit status 0.
    ``header_timeout`` and ``max_connections`` are :func:`serve`'s.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signum, stop.set)
    try:
        async with serve(
            app, host, port, header_timeout=header_timeout, max_connections=max_connections
        ) as url:
            log.info("receiving on %s%s", url, f" ({label})" if label else "")
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
    log.info("stopped")
