"""A poisoned value in the Redis that replicas share (anyone who can write to it can put one
there) is logged and ignored: the listener never dies, a poisoned result key leaves the job
polled. Real Redis, as in ``test_redis_store.py``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from redis_support import RedisHarness, redis_harness

from fastwait import Client, JobState, JobStatus, PollPolicy, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.registry._codec import encode_resolution
from fastwait.registry._store import Resolution
from fastwait.testing import FakeProvider

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")
NESTED = b"[" * 100_000 + b"]" * 100_000
"""JSON nested far past any decoder's recursion limit."""
FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.5)


@pytest.fixture
async def redis() -> AsyncIterator[RedisHarness]:
    async with redis_harness() as harness:
        yield harness


def resolution(job_id: str = KEY[1]) -> Resolution:
    status = JobStatus(id=job_id, provider="compress", state=JobState.SUCCEEDED)
    return Resolution(status=status, source="webhook", resolved_at=1_700_000_000.5)


def header(job_id: str = KEY[1]) -> bytes:
    return json.dumps({"provider": "compress", "job_id": job_id, "replica": "x"}).encode()


@pytest.mark.redis
@pytest.mark.parametrize(
    "poison",
    [NESTED + b"\n{}", header() + b"\n" + NESTED, b"\xff\xfe\n" + NESTED],
    ids=["nested-header", "nested-value", "not-utf8"],
)
async def test_a_poisoned_announcement_is_ignored_and_later_results_still_wake_waiters(
    redis: RedisHarness, poison: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with Registry(redis.store()) as replica_a, Registry(redis.store()) as replica_b:
        store_b = replica_b.store
        assert hasattr(store_b, "wait_listening")
        await store_b.wait_listening()
        waiter = asyncio.create_task(replica_b.wait_resolution(KEY, timeout=10))
        await asyncio.sleep(0)  # the waiter's future exists from its first step
        with caplog.at_level(logging.WARNING, logger="fastwait.store.redis"):
            assert await redis.admin.publish(f"{redis.prefix}results", poison) == 2
            assert await replica_a.publish(resolution().status, source="webhook")
            resolved = await waiter
    assert resolved.status == resolution().status
    assert "ignoring" in caplog.text


@pytest.mark.redis
async def test_a_poisoned_result_key_is_logged_once_and_the_job_is_polled(
    redis: RedisHarness, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeProvider(seed=5, durations=0.2) as fake:
        job_id = fake.create_job("compress")
        await redis.admin.set(f"{redis.prefix}result:compress:{job_id}", NESTED)
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        with caplog.at_level(logging.WARNING, logger="fastwait.store.redis"):
            async with (
                Registry(redis.store()) as registry,
                Client(provider, registry=registry, policy=FAST) as client,
            ):
                status = await client.wait(job_id, timeout=20)
                store = registry.store
                for _ in range(3):
                    assert await store.get(("compress", job_id)) is None
    assert status.state is JobState.SUCCEEDED
    said = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]


@pytest.mark.redis
async def test_a_stored_value_that_decodes_is_still_read(redis: RedisHarness) -> None:
    """The counterpart: the guard refuses only what does not decode."""
    stored = encode_resolution(resolution())
    await redis.admin.set(f"{redis.prefix}result:{KEY[0]}:{KEY[1]}", stored)
    assert await redis.store().get(KEY) == resolution()
