"""The real Redis for the tests that need it, skipped where there is none unless CI requires it.

The server and database are ``FASTWAIT_TEST_REDIS_URL``'s, by default database 15 of
``127.0.0.1:6379`` (the last of a default server's 16), so the tests never write into the
database 0 that applications use. The README's test command must pass on a machine without
Redis, so these tests skip with a one-line reason when that server does not answer (the
summary line counts them); CI sets ``FASTWAIT_REQUIRE_REDIS=1``, which turns that skip into a
failure. A test using Redis must carry ``@pytest.mark.redis`` (it fails otherwise). Every test
gets a random key prefix, deleted afterwards, so runs sharing one server never see each
other's keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import shutil
import socket
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fastwait.registry._redis import RedisResultStore

__all__ = [
    "REDIS_URL",
    "PrivateRedis",
    "RedisHarness",
    "note_running_test",
    "private_redis",
    "redis_harness",
    "redis_url_with",
    "require_redis",
]

REDIS_URL = os.environ.get("FASTWAIT_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
"""The Redis server and database every Redis test uses (``FASTWAIT_TEST_REDIS_URL``)."""

_running: list[pytest.Item] = []
"""The test being run (``conftest.py`` notes it), so that Redis use can check its marker."""


def note_running_test(item: pytest.Item | None) -> None:
    """Called by ``conftest.py`` around each test."""
    _running[:] = [item] if item is not None else []


def redis_url_with(
    *, scheme: str | None = None, credentials: str | None = None, database: int | None = None
) -> str:
    """:data:`REDIS_URL` with another scheme (``rediss``), ``user:password`` credentials or
    database number."""
    parts = urllib.parse.urlsplit(REDIS_URL)
    netloc = parts.netloc.rpartition("@")[2]
    if credentials is not None:
        netloc = f"{credentials}@{netloc}"
    path = parts.path if database is None else f"/{database}"
    return urllib.parse.urlunsplit(
        parts._replace(scheme=scheme or parts.scheme, netloc=netloc, path=path)
    )


@functools.cache
def _unavailable() -> str | None:
    """Why Redis cannot be used here, or None when it answers PING."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis server answers at {REDIS_URL} ({exc.__class__.__name__})"
    finally:
        client.close()
    return None


def require_redis() -> None:
    """Skip the calling test without Redis; fail it instead when CI requires Redis.

    Fails a test that lacks ``@pytest.mark.redis``: the marker is what selects, deselects and
    counts the Redis tests.
    """
    for test in _running:
        if test.get_closest_marker("redis") is None:
            pytest.fail(f"{test.nodeid} uses Redis without @pytest.mark.redis", pytrace=False)
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("FASTWAIT_REQUIRE_REDIS") == "1":
        pytest.fail(f"FASTWAIT_REQUIRE_REDIS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


class RedisHarness:
    """One test's view of Redis: a private prefix, stores under it, and an admin client."""

    def __init__(self, admin: Any, prefix: str) -> None:
        self.url = REDIS_URL
        self.prefix = prefix
        self.admin = admin
        self._stores: list[RedisResultStore] = []

    def store(self, **options: Any) -> RedisResultStore:
        """A new replica's store under this test's prefix (closed after the test at the latest)."""
        store = RedisResultStore(self.url, prefix=self.prefix, **options)
        self._stores.append(store)
        return store

    async def kill_connections(self, store: RedisResultStore, kind: str | None = None) -> int:
        """Make Redis drop ``store``'s connections (``kind``: "pubsub", "normal" or both).

        Only that replica's connections are killed (they are named after its replica id),
        so other tests and other processes sharing the server are not disturbed.
        """
        name = f"fastwait-{store.replica_id}"
        killed = 0
        for client in (
            await self.admin.client_list(_type=kind) if kind else await self.admin.client_list()
        ):
            if client.get("name") == name:
                killed += await self.admin.client_kill_filter(_id=client["id"])
        return killed

    async def aclose(self) -> None:
        for store in self._stores:
            await store.aclose()
        keys = [key async for key in self.admin.scan_iter(match=f"{self.prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await self.admin.delete(*keys[start : start + 1000])
        await self.admin.aclose()


@contextlib.asynccontextmanager
async def redis_harness() -> AsyncIterator[RedisHarness]:
    """A :class:`RedisHarness` (or a skip); its stores and keys are gone afterwards."""
    require_redis()
    import redis.asyncio

    harness = RedisHarness(
        redis.asyncio.Redis.from_url(REDIS_URL),
        prefix=f"fastwait-test:{secrets.token_hex(6)}:",
    )
    try:
        yield harness
    finally:
        await harness.aclose()


class PrivateRedis:
    """A Redis server of one test's own, for troubles that must not reach the shared one (a
    failover's read-only replica, a full memory): ``url`` and an ``admin`` client."""

    def __init__(self, url: str, admin: Any) -> None:
        self.url = url
        self.admin = admin


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def private_redis(directory: Path) -> AsyncIterator[PrivateRedis]:
    """Start ``redis-server`` on a free loopback port (files in ``directory``), stop it after.

    Skips (or fails, when CI requires Redis) where no ``redis-server`` is installed.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("FASTWAIT_REQUIRE_REDIS") == "1":
            pytest.fail("FASTWAIT_REQUIRE_REDIS=1 but redis-server is not installed", pytrace=False)
        pytest.skip("redis-server is not installed")
    require_redis()  # the redis package, and a machine where Redis runs at all
    import redis.asyncio

    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", str(directory),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert server.stdout is not None
    log = server.stdout
    draining: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(10):
            while b"Ready to accept connections" not in (line := await log.readline()):
                assert line, "redis-server ended before it was ready"
        draining = asyncio.create_task(log.read())  # its log must never fill the pipe
        admin = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            yield PrivateRedis(f"redis://127.0.0.1:{port}/0", admin)
        finally:
            await admin.aclose()
    finally:
        server.terminate()
        await server.wait()
        if draining is not None:
            await draining
