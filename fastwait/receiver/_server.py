"""Run an aiohttp application on a TCP port for as long as a ``with`` block lasts.

The standalone receiver service (the repository's ``receiver/``) and the fastwait CLI
(``fastwait receive``, ``fastwait wait --listen``) share this, so binding, the URL they print and
shutdown behave the same everywhere. Port 0 asks the OS for a free port; the yielded URL names
the one bound.

The access log never shows a callback token: ``/callbacks/{token}`` URLs are credentials, so
the path is logged with the token replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["RedactingAccessLogger", "serve", "serve_until_stopped"]

log = logging.getLogger("fastwait.receiver")

_TOKEN_IN_PATH: Final = re.compile(r"/callbacks/[^/?#]+")


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


@contextlib.asynccontextmanager
async def serve(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    shutdown_timeout: float = 10.0,
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host``:``port`` and yield its base URL (``http://127.0.0.1:41234``).

    Leaving the block stops accepting, gives requests in progress up to ``shutdown_timeout``
    seconds, and runs the app's cleanup. Signals are the caller's business.
    """
    runner = web.AppRunner(
        app,
        access_log_class=RedactingAccessLogger,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield _url(runner.addresses[0])
    finally:
        await runner.cleanup()


def _url(address: object) -> str:
    """``http://host:port`` for a socket name: (host, port) or IPv6 (host, port, flow, scope)."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), int(address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    raise RuntimeError(f"the server is not bound to a TCP address: {address!r}")


async def serve_until_stopped(
    app: web.Application, host: str, port: int, *, label: str = ""
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, logging the URL bound (and ``label``) and the stop.

    The one loop the standalone receiver and ``fastwait receive`` both run: a service manager's
    SIGTERM ends it cleanly (requests in flight finish, the app's cleanup runs), exit status 0.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signum, stop.set)
    try:
        async with serve(app, host, port) as url:
            log.info("receiving on %s%s", url, f" ({label})" if label else "")
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
    log.info("stopped")
