"""A real WSGI server for the tests: wsgiref's, threaded, on a free loopback port."""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

__all__ = ["serving"]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a request still blocked when the test ends must not hang it


@contextlib.contextmanager
def serving(app: WSGIApplication, *, read_timeout: float | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yields its root URL. ``read_timeout`` is the
    socket timeout of each connection (None: none), as a production server would set."""

    class QuietHandler(WSGIRequestHandler):
        timeout = read_timeout

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="wsgi-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
