"""What a malformed request costs the receiver's log: one short line, no traceback, no token.

aiohttp's own error log quotes the raw request line of a request it cannot parse, with a
traceback, for every such request: a callback token in the path went to stderr, and anyone
could flood the log. Raw bytes over a real loopback socket to ``receiver.serve``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from fastwait import CallbackTokens, Registry
from fastwait.providers import MediaJobs
from fastwait.receiver import create_app, serve

TOKENS = CallbackTokens("receiver-logs-tests-callback-secret")
TOKEN = TOKENS.for_job("media", "job-a")


@pytest.fixture
async def address() -> AsyncIterator[tuple[str, int]]:
    async with Registry() as registry:
        app = create_app(registry, [MediaJobs("http://media.test")], callback_tokens=TOKENS)
        async with serve(app) as url:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            yield host, int(port)


async def send_raw(address: tuple[str, int], request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


BARE_LF = (
    f"POST /callbacks/{TOKEN} HTTP/1.1\nHost: receiver\nContent-Type: application/json\n"
    "Content-Length: 2\n\n{}"
).encode()


async def test_a_malformed_callback_request_never_puts_its_token_in_the_log(
    address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await send_raw(address, BARE_LF)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    logged = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert TOKEN not in logged
    assert TOKEN[:12] not in logged
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if "malformed request" in r.getMessage()]


async def test_a_flood_of_malformed_requests_is_one_warning_and_no_traceback(
    address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """At the receiver's usual level (INFO): each request's access line, and one warning."""
    garbage = [BARE_LF, b"GET / HTTP/1.1\r\nHost: \x00\r\n\r\n", b"POST /x HTTP/9.9\r\n\r\n"]
    with caplog.at_level(logging.INFO):
        for n in range(200):
            await send_raw(address, garbage[n % len(garbage)])
    assert [r for r in caplog.records if r.exc_info] == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert len(caplog.records) <= 201
    assert TOKEN not in caplog.text
