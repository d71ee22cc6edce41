"""Every store failure ends in a clear outcome for every waiter: never a hang, never silence."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import resource
import socket
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis_support import (
    PrivateRedis,
    RedisHarness,
    private_redis,
    redis_harness,
    redis_url_with,
)

from fastwait import Client, JobState, MemoryResultStore, PollPolicy, Registry
from fastwait.events import Event, PollFailed
from fastwait.exceptions import ConfigurationError, TransportError, WaitTimeout
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore
from fastwait.registry._sqlite import SQLiteResultStore
from fastwait.registry._store import JobKey, Resolution
from fastwait.testing import FakeProvider

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")
FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.5)
UNENCODABLE = {
    "metrics": {
        "inputBytes": 1000,
        "outputBytes": 10,
        "creditCost": 1,
        "compressionRatio": float("inf"),  # the API's 1e999999, as JSON decoding reads it
    }
}
"""Terminal fields of a job whose status is fine but that no JSON store can keep."""


@pytest.fixture
async def redis() -> AsyncIterator[RedisHarness]:
    async with redis_harness() as harness:
        yield harness


def records(caplog: pytest.LogCaptureFixture, level: int, logger: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith(logger)
    ]


async def test_a_failing_command_fails_only_its_caller_and_later_callers_are_answered(
    tmp_path: Path,
) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        await store.get(KEY)  # the file is open and the writer idle
        release = threading.Event()
        holding = threading.Event()

        def hold(connection: sqlite3.Connection, now: float) -> None:
            holding.set()
            release.wait(5)

        def fail(connection: sqlite3.Connection, now: float) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        held = asyncio.ensure_future(store._call(hold))
        # Once the writer is inside `hold`, the rest queue as one batch.
        assert await asyncio.to_thread(holding.wait, 5), "the writer never ran `hold`"
        store.job_tracked(KEY, submitted_at=1.0, webhook_expected=False)
        failing = asyncio.ensure_future(store._call(fail))
        later = asyncio.ensure_future(store.unresolved_jobs("compress"))
        release.set()
        async with asyncio.timeout(5):
            await held
            with pytest.raises(ConfigurationError, match="malformed"):
                await failing
            (job,) = await later
        assert job.job_id == KEY[1], "the journal write before the failure was lost"


def damage(path: Path, seed: int = 0) -> None:
    """Overwrite 3,000 bytes in the middle of ``path`` with random ones (a bad disk, a bad copy)."""
    with path.open("r+b") as file:
        file.seek(16_384)
        file.write(random.Random(seed).randbytes(3_000))


async def run_cli(*args: str, preexec_fn: Callable[[], None] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=preexec_fn,
    )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_every_call_on_a_damaged_state_file_says_it_is_damaged(
    tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "state.db"
    async with SQLiteResultStore(path) as store:
        for n in range(100):
            store.job_tracked(("compress", f"job{n}"), submitted_at=1.0, webhook_expected=False)
        await store.unresolved_jobs("compress")
    assert path.stat().st_size > 20_000
    damage(path, seed)
    async with SQLiteResultStore(path) as store, asyncio.timeout(5):
        with pytest.raises(ConfigurationError, match="is damaged"):
            await store.unresolved_jobs("compress")
        with pytest.raises(ConfigurationError, match="is damaged"):
            await store.get(KEY)


async def test_wait_with_a_damaged_state_file_exits_2_with_one_line(
    fake: FakeProvider, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    wait = ("wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
            "--api-key", "test-key", "--state", str(state), "--jsonl")  # fmt: skip
    code, out, err = await run_cli(*wait, *(fake.create_job("compress") for _ in range(10)))
    assert code == 0, err
    damage(state)

    code, out, err = await run_cli(*wait, *(fake.create_job("compress") for _ in range(10)))

    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "is damaged" in err


async def await_unstorable_results(fake: FakeProvider, registry: Registry) -> None:
    """Two jobs whose results the store cannot keep are awaited, then awaited again."""
    ids = [fake.create_job("compress", duration=0.1, terminal_fields=UNENCODABLE) for _ in "ab"]
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with registry, Client(api, registry=registry, policy=FAST) as client:
        async with asyncio.timeout(10):
            statuses = await asyncio.gather(*(client.wait(job_id) for job_id in ids))
            polls = [fake.job("compress", job_id).requests for job_id in ids]
            again = await asyncio.gather(*(client.wait(job_id) for job_id in ids))
    assert [s.state for s in statuses] == [JobState.SUCCEEDED] * 2
    assert again == statuses, "the result kept in memory was not returned to a later waiter"
    assert [fake.job("compress", job_id).requests for job_id in ids] == polls


async def test_a_result_the_sqlite_store_cannot_keep_reaches_its_waiters_and_is_said_once(
    fake: FakeProvider, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await await_unstorable_results(fake, Registry(state=tmp_path / "state.db"))
    (said,) = records(caplog, logging.WARNING, "fastwait")
    assert "kept in memory only" in said
    assert "not JSON" in said
    assert not records(caplog, logging.ERROR, "asyncio"), "a poll task died"


@pytest.mark.redis
async def test_a_result_the_redis_store_cannot_keep_reaches_its_waiters_and_is_said_once(
    fake: FakeProvider, redis: RedisHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await await_unstorable_results(fake, Registry(redis.store()))
    (said,) = records(caplog, logging.WARNING, "fastwait.registry")
    assert "kept in memory only" in said
    assert not records(caplog, logging.ERROR, "asyncio"), "a poll task died"


def _small_files() -> None:
    """In the child: files may not grow past 200 KB (``ulimit -f 200``); writes past it fail."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, resource.RLIM_INFINITY))


async def test_wait_with_a_full_disk_reports_every_job_and_says_so_once(
    fake: FakeProvider, tmp_path: Path
) -> None:
    ids = [fake.create_job("compress", duration=0.3) for _ in range(1500)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids))
    code, out, err = await run_cli(
        "wait", "--provider", "compress",
        "--base-url", fake.base_url("compress"), "--api-key", "test-key",
        "--state", str(tmp_path / "state.db"), "--jsonl", "--ids-file", str(ids_file),
        preexec_fn=_small_files,
    )  # fmt: skip
    assert code == 0, err
    states = {line["id"]: line["state"] for line in map(json.loads, out.splitlines())}
    assert states == dict.fromkeys(ids, "SUCCEEDED")
    assert "Traceback" not in err
    (said,) = [line for line in err.splitlines() if "is written again" not in line]
    assert "kept in memory only" in said
    assert "state.db" in said


class _StoreWithABug(MemoryResultStore):
    """A store whose first ``put_first`` raises what no store should: a plain exception."""

    def __init__(self) -> None:
        super().__init__()
        self.raised = False

    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        if not self.raised:
            self.raised = True
            raise RuntimeError("a bug in a store")
        return await super().put_first(key, resolution)


async def test_an_unexpected_error_in_a_poll_is_logged_and_the_job_polled_again(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    job_id = fake.create_job("compress", duration=0.1)
    store = _StoreWithABug()
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Registry(store) as registry, Client(api, registry=registry, policy=FAST) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert store.raised
    (logged,) = records(caplog, logging.ERROR, "fastwait.poller")
    assert "unexpected error polling" in logged
    assert not records(caplog, logging.ERROR, "asyncio")


@pytest.mark.redis
async def test_a_redis_that_refuses_the_credentials_fails_the_waiters_with_a_typed_error(
    fake: FakeProvider, redis: RedisHarness
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    store = RedisResultStore(
        redis_url_with(credentials="nobody:not-the-password"), prefix=redis.prefix
    )
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Registry(store) as registry, Client(api, registry=registry, policy=FAST) as client:
        with pytest.raises(ConfigurationError, match="refused the credentials") as raised:
            await asyncio.wait_for(client.wait(job_id), timeout=10)
    assert "not-the-password" not in str(raised.value)


async def _demote(server: PrivateRedis) -> None:
    with socket.socket() as dead:  # a master that is gone: the replica never syncs
        dead.bind(("127.0.0.1", 0))
        await server.admin.replicaof("127.0.0.1", dead.getsockname()[1])


async def _promote(server: PrivateRedis) -> None:
    await server.admin.replicaof("NO", "ONE")


async def _fill_memory(server: PrivateRedis) -> None:
    await server.admin.config_set("maxmemory", "1")


async def _free_memory(server: PrivateRedis) -> None:
    await server.admin.config_set("maxmemory", "0")


@pytest.mark.redis
@pytest.mark.parametrize(
    ("trouble", "over"),
    [(_demote, _promote), (_fill_memory, _free_memory)],
    ids=["READONLY during a failover", "OOM"],
)
async def test_a_redis_refusing_writes_for_a_while_delays_results_never_fails_them(
    fake: FakeProvider,
    tmp_path: Path,
    trouble: Callable[[PrivateRedis], Awaitable[None]],
    over: Callable[[PrivateRedis], Awaitable[None]],
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    failures: list[PollFailed] = []
    failed = asyncio.Event()

    def hook(event: Event) -> None:
        if isinstance(event, PollFailed):
            failures.append(event)
            failed.set()

    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with private_redis(tmp_path) as server:
        await trouble(server)
        async with (
            Registry(redis=server.url, on_event=hook) as registry,
            Client(api, registry=registry, policy=FAST) as client,
        ):
            waiting = asyncio.create_task(client.wait(job_id, timeout=20))
            await failed.wait()
            await over(server)
            status = await waiting
    assert status.state is JobState.SUCCEEDED
    assert all(failure.transient for failure in failures)


class _RefusingStore(MemoryResultStore):
    """A store that cannot take a result (as while Redis is unreachable) ``refusals`` times,
    and notes how many requests the fake had seen for the job at the first refusal."""

    def __init__(self, fake: FakeProvider, refusals: float) -> None:
        super().__init__()
        self.fake = fake
        self.refusals = refusals
        self.requests_at_first_refusal: int | None = None

    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        if self.refusals > 0:
            self.refusals -= 1
            if self.requests_at_first_refusal is None:
                self.requests_at_first_refusal = self.fake.job(*key).requests
            raise TransportError("the result store is unreachable")
        return await super().put_first(key, resolution)


async def test_a_result_the_store_refused_is_stored_later_without_asking_the_api_again(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    store = _RefusingStore(fake, refusals=3)
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Registry(store) as registry, Client(api, registry=registry, policy=FAST) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert store.refusals == 0
    assert fake.job("compress", job_id).requests == store.requests_at_first_refusal


async def test_a_wait_timing_out_while_the_store_refuses_the_result_carries_the_store_error(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    store = _RefusingStore(fake, refusals=float("inf"))
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Registry(store) as registry, Client(api, registry=registry, policy=FAST) as client:
        with pytest.raises(WaitTimeout) as raised:
            await client.wait(job_id, timeout=1.0)
    assert isinstance(raised.value.last_error, TransportError)
    assert "the result store is unreachable" in str(raised.value.last_error)


async def test_a_store_refusing_results_for_a_second_is_said_on_the_log(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    job_id = fake.create_job("compress", duration=0.1)
    store = _RefusingStore(fake, refusals=float("inf"))
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Registry(store) as registry, Client(api, registry=registry, policy=FAST) as client:
        with pytest.raises(WaitTimeout):
            await client.wait(job_id, timeout=2.5)
    (said,) = records(caplog, logging.WARNING, "fastwait.poller")
    assert "cannot reach the result store" in said
    assert "the result store is unreachable" in said
