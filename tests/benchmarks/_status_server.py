"""A minimal, fast stand-in for the fake in scale's peak scenario: every job is running forever.

The fake (aiohttp, job models, bookkeeping) costs more per request than the client being
measured, so it cannot show a client's peak. This server answers a tools.fast status in a few
microseconds on a raw asyncio protocol (uvloop's when installed): ``GET /compress/job/{id}``
is a running status of that id, ``POST /_fake/jobs`` ``{"count": n}`` hands out ``n`` new ids,
``GET /_fake/stats`` counts the status requests so far. Run as a script, it prints its URL.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from typing import Any

__all__ = ["main"]

_RUNNING = (
    b'{"id":"%s","status":"Running","format":"jpg","progress":{"percent":42.0,'
    b'"phase":"compressing"},"metrics":{"inputBytes":579478,"outputBytes":0,"creditCost":1,'
    b'"compressionRatio":null,"savingsPercent":null},"error":null,"output":null}'
)
_HEAD = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
_STATUS_PREFIX = b"/compress/job/"


class _Counts:
    requests = 0
    ids = itertools.count(1)


def _response(status: int, reason: bytes, body: bytes) -> bytes:
    return _HEAD % (status, reason, len(body)) + body


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._transport: Any = None  # uvloop's transports are not asyncio's classes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            method, target = head.split(b" ", 2)[:2]
            assert self._transport is not None
            self._transport.write(self._answer(method, target, body))

    def _answer(self, method: bytes, target: bytes, body: bytes) -> bytes:
        if method == b"GET" and target.startswith(_STATUS_PREFIX):
            _Counts.requests += 1
            return _response(200, b"OK", _RUNNING % target[len(_STATUS_PREFIX) :])
        if method == b"POST" and target == b"/_fake/jobs":
            count = int(json.loads(body)["count"])
            ids = [f"{next(_Counts.ids):032x}" for _ in range(count)]
            return _response(200, b"OK", json.dumps({"ids": ids}).encode())
        if method == b"GET" and target == b"/_fake/stats":
            return _response(200, b"OK", json.dumps({"requests": _Counts.requests}).encode())
        return _response(404, b"Not Found", b'{"error":"not found"}')


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    cpus = os.sched_getaffinity(0)
    if len(cpus) > 1:
        os.sched_setaffinity(0, {max(cpus)})  # the client pins itself to the first one
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
