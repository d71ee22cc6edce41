"""Slow and greedy clients cannot hold the receiver: real sockets against a served receiver.

Every timeout here is set to a fraction of a second so the tests stay quick; the assertions
bound how long the server takes with a generous margin, never how quickly it answers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fastwait import Registry, StandardWebhookVerifier
from fastwait.exceptions import ConfigurationError
from fastwait.providers import ToolsFastCompress
from fastwait.receiver import create_app, serve

SECRET = "whsec_" + base64.b64encode(b"slow-client-tests-hmac-secret-01").decode()
ROOT = Path(__file__).resolve().parent.parent
MARGIN = 5.0  # seconds: far above every timeout set here, far below aiohttp's own defaults

HEAD = b"POST /hooks/compress HTTP/1.1\r\nHost: receiver.test\r\nContent-Type: application/json\r\n"


@contextlib.asynccontextmanager
async def receiver(
    *,
    header_timeout: float = 30.0,
    body_timeout: float = 30.0,
    max_connections: int = 512,
) -> AsyncIterator[tuple[str, int]]:
    async with Registry() as registry:
        app = create_app(
            registry,
            [ToolsFastCompress("test-api-key")],
            verifier=StandardWebhookVerifier([SECRET]),
            body_timeout=body_timeout,
        )
        async with serve(
            app, header_timeout=header_timeout, max_connections=max_connections
        ) as url:
            parts = urlsplit(url)
            assert parts.hostname is not None
            assert parts.port is not None
            yield parts.hostname, parts.port


@contextlib.asynccontextmanager
async def connection(
    address: tuple[str, int],
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(*address)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (within MARGIN seconds)."""
    return await asyncio.wait_for(reader.read(), timeout=MARGIN)


async def test_a_client_that_never_finishes_its_headers_is_closed() -> None:
    async with receiver(header_timeout=0.3) as address, connection(address) as (reader, writer):
        writer.write(HEAD[:40])
        assert await read_until_closed(reader) == b""


async def test_a_client_that_connects_and_sends_nothing_is_closed() -> None:
    async with receiver(header_timeout=0.3) as address, connection(address) as (reader, _):
        assert await read_until_closed(reader) == b""


async def test_a_kept_alive_connection_is_closed_when_its_next_headers_stall() -> None:
    async with receiver(header_timeout=0.3) as address, connection(address) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: receiver.test\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), MARGIN)
        assert answer.startswith(b"HTTP/1.1 200")
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: rec")
        assert await read_until_closed(reader) == b""


async def test_headers_that_arrive_slowly_but_in_time_are_served() -> None:
    async with receiver(header_timeout=2.0) as address, connection(address) as (reader, writer):
        request = b"GET /healthz HTTP/1.1\r\nHost: receiver.test\r\nConnection: close\r\n\r\n"
        for start in range(0, len(request), 16):
            writer.write(request[start : start + 16])
            await writer.drain()
            await asyncio.sleep(0.02)  # a slow sender is the point of this test
        assert (await read_until_closed(reader)).startswith(b"HTTP/1.1 200")


async def test_a_chunked_body_that_never_ends_is_answered_408_and_closed() -> None:
    async with receiver(body_timeout=0.3) as address, connection(address) as (reader, writer):
        writer.write(HEAD + b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n')
        answer = await read_until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"body_timeout"' in answer


async def test_a_body_trickled_past_the_body_timeout_is_answered_408() -> None:
    async with receiver(body_timeout=0.5) as address, connection(address) as (reader, writer):
        writer.write(HEAD + b"Content-Length: 100\r\n\r\n")

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(100):  # each byte well within any idle timeout, the whole too slow
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.05)

        sender = asyncio.create_task(trickle())
        try:
            assert (await read_until_closed(reader)).startswith(b"HTTP/1.1 408")
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


async def test_a_huge_declared_length_is_answered_413_and_closed_promptly() -> None:
    async with receiver() as address, connection(address) as (reader, writer):
        writer.write(HEAD + b"Content-Length: 99999999999\r\n\r\n")
        assert (await read_until_closed(reader)).startswith(b"HTTP/1.1 413")


async def test_connections_beyond_the_cap_are_answered_503_until_one_closes() -> None:
    healthz = b"GET /healthz HTTP/1.1\r\nHost: receiver.test\r\nConnection: close\r\n\r\n"
    async with (
        receiver(max_connections=2) as address,
        connection(address) as (first, first_writer),
        connection(address),
    ):
        # Connections are accepted in order: the third finds both places taken.
        async with connection(address) as (third, third_writer):
            third_writer.write(healthz)
            assert (await read_until_closed(third)).startswith(b"HTTP/1.1 503")
        # The server closes after answering; connection_lost runs before its FIN leaves.
        first_writer.write(healthz)
        assert (await read_until_closed(first)).startswith(b"HTTP/1.1 200")
        async with connection(address) as (fourth, fourth_writer):
            fourth_writer.write(healthz)
            assert (await read_until_closed(fourth)).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "settings",
    [
        {"header_timeout": 0},
        {"header_timeout": float("nan")},
        {"max_connections": 0},
        {"max_connections": True},
    ],
)
async def test_serve_refuses_unusable_limits(settings: dict[str, float]) -> None:
    async with Registry() as registry:
        app = create_app(
            registry, [ToolsFastCompress("k")], verifier=StandardWebhookVerifier([SECRET])
        )
        with pytest.raises(ConfigurationError):
            async with serve(app, **settings):  # type: ignore[arg-type]
                pass


async def test_create_app_refuses_an_unusable_body_timeout() -> None:
    async with Registry() as registry:
        with pytest.raises(ConfigurationError, match="body_timeout"):
            create_app(
                registry,
                [ToolsFastCompress("k")],
                verifier=StandardWebhookVerifier([SECRET]),
                body_timeout=-1,
            )


async def _stalled_head_is_closed(command: list[str], env: dict[str, str]) -> None:
    """Start a receiver process, see a stalled request head closed, stop it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=10)
        found = re.search(rb"receiving on http://([0-9.]+):([0-9]+)", line)
        assert found, line
        address = (found[1].decode(), int(found[2]))
        async with connection(address) as (reader, writer):
            writer.write(HEAD[:40])
            assert await read_until_closed(reader) == b""
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_fastwait_receive_takes_its_header_timeout_from_the_command_line() -> None:
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": SECRET}
    command = [
        *(sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress"),
        *("--header-timeout", "0.3", "--body-timeout", "1", "--max-connections", "8"),
    ]
    await _stalled_head_is_closed(command, env)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_the_standalone_service_takes_its_header_timeout_from_the_environment() -> None:
    env = {
        **os.environ,
        "FASTWAIT_PROVIDERS": "compress",
        "FASTWAIT_WEBHOOK_SECRET": SECRET,
        "FASTWAIT_RECEIVER_PORT": "0",
        "FASTWAIT_HEADER_TIMEOUT": "0.3",
        "FASTWAIT_BODY_TIMEOUT": "1",
        "FASTWAIT_MAX_CONNECTIONS": "8",
    }
    await _stalled_head_is_closed([sys.executable, str(ROOT / "receiver" / "service.py")], env)
