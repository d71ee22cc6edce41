"""An API or a Redis that cannot be reached is said within seconds, and named by timeouts.

Nothing listens on the "unreachable" port: a socket is bound to it and never listens, so a
connection is refused at once and no other process can take the port meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from redis_support import redis_harness, redis_url_with, require_redis

from fastwait import Client, JobState, JobStatus, PollPolicy, Registry
from fastwait.cli._outcome import EXIT_TIMED_OUT
from fastwait.exceptions import ConfigurationError, TransportError, WaitTimeout
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore
from fastwait.registry._store import Resolution
from fastwait.testing import FakeProvider

JOB_ID = "019c56457340753ba9441d7b4e6516a0"
FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.5)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port where every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def start_wait(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "wait", "--provider", "compress", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FASTWAIT_API_KEY": "test-key"},
    )  # fmt: skip


async def stderr_until(process: asyncio.subprocess.Process, words: str, seconds: float) -> str:
    """The stderr lines of ``process`` up to the first with ``words``; fails after ``seconds``."""
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            while line := (await process.stderr.readline()).decode():
                seen.append(line)
                if words in line:
                    return "".join(seen)
    except TimeoutError:
        pass
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()
    raise AssertionError(f"{words!r} not said within {seconds} s; stderr: {''.join(seen)!r}")


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


# --- the API -----------------------------------------------------------------------------


async def test_wait_timeout_carries_the_last_error_as_attribute_and_cause(
    refused_port: int,
) -> None:
    api = ToolsFastCompress("test-key", f"http://127.0.0.1:{refused_port}")
    async with Client(api, policy=FAST) as client:
        with pytest.raises(WaitTimeout) as raised:
            await client.wait(JOB_ID, timeout=1.0)
    timeout = raised.value
    assert isinstance(timeout.last_error, TransportError)
    assert timeout.__cause__ is timeout.last_error
    assert timeout.last_status is None
    assert "Cannot connect" in str(timeout)


async def test_an_as_completed_timeout_carries_the_last_error_too(refused_port: int) -> None:
    api = ToolsFastCompress("test-key", f"http://127.0.0.1:{refused_port}")
    async with Client(api, policy=FAST) as client:
        [result] = [r async for r in client.as_completed([JOB_ID], timeout=1.0)]
    assert isinstance(result.error, WaitTimeout)
    assert isinstance(result.error.last_error, TransportError)
    assert result.error.__cause__ is result.error.last_error


async def test_a_status_seen_after_an_error_clears_the_last_error(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=30)
    fake.faults.fail_next(1, status=503)
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        with pytest.raises(WaitTimeout) as raised:
            await c.wait(job_id, timeout=1.0)
    assert raised.value.last_error is None
    assert raised.value.last_status is not None


async def test_wait_says_within_seconds_that_the_api_cannot_be_reached_and_why(
    refused_port: int,
) -> None:
    process = await start_wait("--base-url", f"http://127.0.0.1:{refused_port}", JOB_ID)
    said = await stderr_until(process, "cannot reach the compress API", 10)
    assert "Cannot connect" in said.splitlines()[-1]


async def test_a_timed_out_jsonl_line_names_the_last_error_and_it_is_said_once(
    refused_port: int,
) -> None:
    process = await start_wait(
        "--base-url", f"http://127.0.0.1:{refused_port}", "--timeout", "4", "--jsonl", JOB_ID
    )
    code, out, err = await finish(process)
    assert code == EXIT_TIMED_OUT
    line = json.loads(out)
    assert line["error"]["code"] == "timeout"
    assert "TransportError" in line["error"]["last_error"]
    assert "Cannot connect" in line["error"]["last_error"]
    assert err.count("cannot reach the compress API") == 1, err


# --- Redis -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/abc", "/0/1", "/-1", "/1x"])
def test_a_redis_url_with_a_malformed_database_is_refused(path: str) -> None:
    with pytest.raises(ConfigurationError, match="database"):
        RedisResultStore(f"redis://127.0.0.1:6379{path}")


@pytest.mark.parametrize("path", ["", "/", "/7", "/15"])
def test_a_redis_url_with_a_database_number_or_none_is_accepted(path: str) -> None:
    asyncio.run(RedisResultStore(f"redis://127.0.0.1:6379{path}").aclose())


@pytest.mark.redis
async def test_a_store_keeps_its_results_in_the_database_its_url_names() -> None:
    import redis.asyncio

    async with redis_harness() as harness:
        database = int(urllib.parse.urlsplit(harness.url).path.strip("/") or 0)
        elsewhere = redis.asyncio.Redis.from_url(redis_url_with(database=(database + 1) % 16))
        key = f"{harness.prefix}result:compress:{JOB_ID}"
        status = JobStatus(id=JOB_ID, provider="compress", state=JobState.SUCCEEDED)
        try:
            await harness.store().put_first(
                ("compress", JOB_ID), Resolution(status, "poll", time.time())
            )
            assert await harness.admin.exists(key) == 1
            assert await elsewhere.exists(key) == 0  # only read: nothing is written there
        finally:
            await elsewhere.aclose()


async def test_wait_refuses_a_redis_url_with_a_malformed_database(fake: FakeProvider) -> None:
    process = await start_wait(
        "--base-url", fake.base_url("compress"), "--redis", "redis://127.0.0.1:6379/abc", JOB_ID
    )
    code, _, err = await finish(process)
    assert code == 2
    assert "database" in err
    assert len(err.strip().splitlines()) == 1


async def test_an_unreachable_redis_is_said_and_named_by_the_timeout(
    fake: FakeProvider, refused_port: int
) -> None:
    job_id = fake.create_job("compress", duration=0.2)
    process = await start_wait(
        "--base-url", fake.base_url("compress"), "--timeout", "4", "--jsonl",
        "--redis", f"redis://127.0.0.1:{refused_port}/7", job_id,
    )  # fmt: skip
    code, out, err = await finish(process)
    assert code == EXIT_TIMED_OUT
    assert "Redis" in json.loads(out)["error"]["last_error"]
    assert "cannot reach the result store" in err
    assert len(err.splitlines()) <= 3, err


@pytest.mark.redis
async def test_a_tls_url_to_a_plain_redis_is_said_and_named_by_the_timeout(
    fake: FakeProvider,
) -> None:
    require_redis()
    job_id = fake.create_job("compress", duration=0.2)
    store = RedisResultStore(redis_url_with(scheme="rediss"), socket_connect_timeout=0.5)
    async with Registry(store) as registry:
        api = ToolsFastCompress("test-key", fake.base_url("compress"))
        async with Client(api, registry=registry, policy=FAST) as client:
            with pytest.raises(WaitTimeout) as raised:
                await client.wait(job_id, timeout=4)
    assert isinstance(raised.value.last_error, TransportError)
    assert "TLS" in str(raised.value.last_error)


def test_a_wait_timeout_pickles_with_its_last_error() -> None:
    timeout = WaitTimeout("compress", JOB_ID, 2.0, last_error=TransportError("refused"))
    copy = pickle.loads(pickle.dumps(timeout))
    assert (copy.job_id, str(copy.last_error), str(copy)) == (JOB_ID, "refused", str(timeout))
