"""Replicas sharing Redis: one polls each job, a dead one is replaced, a lost connection costs
nothing. Each replica is a Client with its own Registry and RedisResultStore; one test runs a
replica as a real process and kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest
from redis_support import RedisHarness, redis_harness

from fastwait import Client, JobResult, JobState, PollPolicy, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore
from fastwait.testing import FakeProvider

pytestmark = pytest.mark.redis

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
POLICY = PollPolicy(ceiling=1.0)
"""Short delays between polls, so leases (1.5 * ceiling + 1 = 2.5 s) turn over fast."""
DOOMED_CEILING = 60.0
"""The killed replica's leases would last 91 s: only its missed heartbeat frees its jobs in
time for the survivor's 20 s wait (3 s liveness, checked every second)."""


@pytest.fixture
async def redis() -> AsyncIterator[RedisHarness]:
    async with redis_harness() as harness:
        yield harness


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(seed=3) as provider:
        yield provider


def create_jobs(fake: FakeProvider, count: int, low: float, high: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [fake.create_job("compress", duration=rng.uniform(low, high)) for _ in range(count)]


@contextlib.asynccontextmanager
async def replica(
    fake: FakeProvider, store: RedisResultStore, policy: PollPolicy = POLICY
) -> AsyncIterator[Client]:
    """One replica: a client polling the fake, its registry backed by ``store``; its requests
    carry ``User-Agent: replica-<its id>``, so the fake records which replica asked."""
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with (
        aiohttp.ClientSession(headers={"User-Agent": f"replica-{store.replica_id}"}) as session,
        Registry(store) as registry,
        Client(api, session=session, registry=registry, policy=policy) as client,
    ):
        yield client


async def await_all(client: Client, job_ids: Sequence[str]) -> dict[str, JobResult]:
    return {result.job_id: result async for result in client.as_completed(job_ids, timeout=20)}


def all_succeeded(results: dict[str, JobResult], job_ids: Sequence[str]) -> bool:
    return results.keys() == set(job_ids) and all(r.succeeded for r in results.values())


async def test_three_replicas_awaiting_the_same_jobs_poll_each_from_one_replica(
    redis: RedisHarness, fake: FakeProvider
) -> None:
    job_ids = create_jobs(fake, 100, 0.3, 3.0, seed=1)
    # Leases (16 s) and liveness (30 s) outlast every job and any stall of a loaded machine,
    # so no lease lapses and one poller per job is a property, not a likelihood. What sharing
    # saves in requests is measured by `python -m tests.benchmarks redis`.
    stores = [redis.store(liveness_ttl=30.0) for _ in range(3)]
    policy = PollPolicy(ceiling=10.0)
    async with (
        replica(fake, stores[0], policy) as a,
        replica(fake, stores[1], policy) as b,
        replica(fake, stores[2], policy) as c,
    ):
        trio = await asyncio.gather(*(await_all(client, job_ids) for client in (a, b, c)))
    assert all(all_succeeded(results, job_ids) for results in trio)
    replicas = {f"replica-{store.replica_id}" for store in stores}
    pollers = {job_id: fake.job("compress", job_id).user_agents for job_id in job_ids}
    assert all(len(agents) == 1 and agents[0] in replicas for agents in pollers.values()), pollers
    # The others learned each result through Redis, without a poll of their own.
    assert all(sum(results[job_id].polls > 0 for results in trio) == 1 for job_id in job_ids)


_REPLICA_PROCESS = """
import asyncio, sys
from fastwait import Client, PollPolicy, Registry
from fastwait.registry._redis import RedisResultStore
from fastwait.providers import ToolsFastCompress

async def main(url, prefix, base_url, ceiling, ids):
    store = RedisResultStore(url, prefix=prefix)
    api = ToolsFastCompress("test-key", base_url)
    async with Registry(store) as registry, Client(
        api, registry=registry, policy=PollPolicy(ceiling=float(ceiling))
    ) as client:
        print("replica", store.replica_id, flush=True)
        async for result in client.as_completed(ids):
            print("resolved", result.job_id, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
"""


async def test_the_jobs_of_a_killed_replica_are_taken_over_once_its_heartbeat_stops(
    redis: RedisHarness, fake: FakeProvider, tmp_path: Path
) -> None:
    # The jobs run until the kill, however long a loaded machine takes to get there, so the
    # doomed replica still holds their leases when it dies; they end 0.5-1.5 s after it.
    job_ids = create_jobs(fake, 40, 3600.0, 3600.0, seed=2)
    script = tmp_path / "replica.py"
    script.write_text(_REPLICA_PROCESS)
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        redis.url,
        redis.prefix,
        fake.base_url("compress"),
        str(DOOMED_CEILING),
        *job_ids,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert doomed.stdout is not None
        first_line = (await asyncio.wait_for(doomed.stdout.readline(), 15)).split()
        assert first_line[0] == b"replica", first_line
        async with asyncio.timeout(15):  # until the doomed replica leased and polled every job
            # Another process does the polling: there is no event to await, only counters.
            while not all(fake.job("compress", i).requests for i in job_ids):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        leases = await redis.admin.mget([f"{redis.prefix}lease:compress:{i}" for i in job_ids])
        held = sum(lease == first_line[1] for lease in leases)
        async with replica(fake, redis.store()) as survivor:
            waiting = asyncio.create_task(await_all(survivor, job_ids))
            doomed.send_signal(signal.SIGKILL)
            killed_at = fake.now()
            rng = random.Random(2)
            for job_id in job_ids:
                fake.job("compress", job_id).completes_at = killed_at + rng.uniform(0.5, 1.5)
            results = await waiting
    finally:
        if doomed.returncode is None:
            doomed.kill()
        await doomed.communicate()
    assert held == len(job_ids), "the killed replica did not hold every lease: a premise"
    assert all_succeeded(results, job_ids)


async def test_every_job_resolves_although_redis_drops_the_connections_mid_wait(
    redis: RedisHarness, fake: FakeProvider
) -> None:
    job_ids = create_jobs(fake, 100, 0.5, 3.0, seed=4)
    stores = [redis.store(reconnect_max_delay=0.2) for _ in range(2)]

    async def drop_connections() -> None:
        for _ in range(4):
            await asyncio.sleep(0.6)
            for store in stores:
                await redis.kill_connections(store)

    async with replica(fake, stores[0]) as a, replica(fake, stores[1]) as b:
        dropping = asyncio.create_task(drop_connections())
        results = await asyncio.gather(await_all(a, job_ids), await_all(b, job_ids))
        await dropping
    assert all(all_succeeded(replica_results, job_ids) for replica_results in results)
    assert all(
        r.status is not None and r.status.state is JobState.SUCCEEDED
        for replica_results in results
        for r in replica_results.values()
    )


async def test_the_replicas_sample_wakes_one_replica_with_the_webhook_of_the_other(
    redis: RedisHarness,
) -> None:
    sample = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SAMPLES / "replicas.py"),
        "--fake",
        "--redis",
        redis.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(sample.communicate(), 60)
    output = stdout.decode()
    submitted = re.search(r"submitted job (\w+)", output)
    if submitted is not None:  # the sample keeps fastwait's default prefix: remove its keys
        job = submitted.group(1)
        await redis.admin.delete(
            f"fastwait:result:compress:{job}", f"fastwait:lease:compress:{job}"
        )
    assert sample.returncode == 0, stderr.decode()
    assert "replica A: webhook says job" in output
    assert "is SUCCEEDED, by webhook" in output
