"""The Redis store: first result wins across replicas, announcements wake other replicas'
waiters, one replica at a time holds a job's poll lease, and a lost connection loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator

import pytest
from redis_support import RedisHarness, redis_harness

from fastwait import JobState, JobStatus, Registry
from fastwait.exceptions import ConfigurationError, TransportError, WaitTimeout
from fastwait.registry._codec import encode_resolution
from fastwait.registry._redis import RedisResultStore
from fastwait.registry._store import JobKey, PollLease, Resolution

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")
UNREACHABLE = "redis://fastwait:s3cret-password@127.0.0.1:1/0"


@pytest.fixture
async def redis() -> AsyncIterator[RedisHarness]:
    async with redis_harness() as harness:
        yield harness


def status(state: JobState = JobState.SUCCEEDED, job_id: str = KEY[1]) -> JobStatus:
    return JobStatus(id=job_id, provider="compress", state=state, metrics={"savedPercent": 40.5})


class Deliveries:
    """What a store's listener delivers, awaited one by one."""

    def __init__(self, store: RedisResultStore) -> None:
        self._queue: asyncio.Queue[tuple[JobKey, Resolution]] = asyncio.Queue()
        store.listen(lambda key, found: self._queue.put_nowait((key, found)))

    async def next(self) -> tuple[JobKey, Resolution]:
        async with asyncio.timeout(5):
            return await self._queue.get()


def resolution(state: JobState = JobState.SUCCEEDED, source: str = "poll") -> Resolution:
    return Resolution(status=status(state), source=source, resolved_at=1_700_000_000.5)


# --- without a server -------------------------------------------------------------------------


def test_constructing_needs_no_event_loop_and_connects_nothing() -> None:
    store = RedisResultStore(UNREACHABLE)
    assert isinstance(store, PollLease)
    assert "s3cret" not in repr(store)
    asyncio.run(store.aclose())


def test_a_missing_redis_package_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r"fastwait\[redis\]"):
        Registry(redis="redis://127.0.0.1:6379/0")


def test_a_url_that_is_not_redis_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="Redis URL"):
        RedisResultStore("http://127.0.0.1:6379/0")


async def test_while_redis_is_unreachable_writes_fail_transiently_and_waiters_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="fastwait.store.redis")
    async with Registry(RedisResultStore(UNREACHABLE)) as registry:
        store = registry.store
        assert isinstance(store, RedisResultStore)
        assert await store.get(KEY) is None
        with pytest.raises(TransportError) as raised:
            await store.put_first(KEY, resolution())
        assert raised.value.transient
        assert "s3cret" not in str(raised.value)
        with pytest.raises(TransportError):
            await store.acquire_poll_lease(KEY, 2.0)
        with pytest.raises(WaitTimeout):
            await registry.wait(KEY, timeout=0.2)


# --- with the real server ---------------------------------------------------------------------


@pytest.mark.redis
async def test_first_result_wins_across_replicas(redis: RedisHarness) -> None:
    a, b = redis.store(), redis.store()
    first, second = await asyncio.gather(
        a.put_first(KEY, resolution(source="webhook")),
        b.put_first(KEY, resolution(JobState.FAILED)),
    )
    assert first == second
    assert await a.get(KEY) == await b.get(KEY) == first


@pytest.mark.redis
async def test_results_are_stored_with_the_ttl(redis: RedisHarness) -> None:
    store = redis.store(ttl=30)
    started = time.monotonic()
    await store.put_first(KEY, resolution())
    remaining = await redis.admin.pttl(f"{redis.prefix}result:{KEY[0]}:{KEY[1]}")
    # Whatever the load: at most 30 s, less no more than the time since the write was sent.
    since_sent_ms = (time.monotonic() - started) * 1000
    assert 30_000 - since_sent_ms - 1 <= remaining <= 30_000


@pytest.mark.redis
async def test_a_result_stored_by_one_replica_is_announced_to_the_others(
    redis: RedisHarness,
) -> None:
    a, b = redis.store(), redis.store()
    announced = Deliveries(b)
    await b.wait_listening()
    await a.put_first(KEY, resolution(source="webhook"))
    assert await announced.next() == (KEY, resolution(source="webhook"))


@pytest.mark.redis
async def test_a_replica_is_not_told_about_its_own_results(redis: RedisHarness) -> None:
    a, b = redis.store(), redis.store()
    announced = Deliveries(a)
    await a.wait_listening()
    await a.put_first(("compress", "mine"), resolution())
    await b.put_first(("compress", "theirs"), resolution())
    # One channel delivers in order: our own announcement would have come first.
    assert (await announced.next())[0] == ("compress", "theirs")


@pytest.mark.redis
async def test_a_webhook_received_by_one_replica_wakes_a_waiter_on_another(
    redis: RedisHarness,
) -> None:
    async with Registry(redis.store()) as replica_a, Registry(redis.store()) as replica_b:
        waiter = asyncio.create_task(replica_b.wait_resolution(KEY, timeout=5))
        await asyncio.sleep(0)  # the waiter's future exists from its first step
        assert await replica_a.publish(status(), source="webhook")
        resolved = await waiter
    assert (resolved.source, resolved.status) == ("webhook", status())


@pytest.mark.redis
async def test_one_replica_at_a_time_holds_a_poll_lease(redis: RedisHarness) -> None:
    a, b = redis.store(), redis.store()
    started = time.monotonic()
    assert await a.acquire_poll_lease(KEY, 10.0) is None
    wait = await b.acquire_poll_lease(KEY, 10.0)
    since_granted = time.monotonic() - started
    assert wait is not None
    # Look again when the holder's lease can first lapse: 10 s after it was granted.
    assert 10.0 - since_granted - 0.001 <= wait <= 10.0
    assert await a.acquire_poll_lease(KEY, 10.0) is None


@pytest.mark.redis
async def test_a_holder_confirms_its_lease_from_memory_until_half_its_life_is_gone(
    redis: RedisHarness,
) -> None:
    a = redis.store()
    lease = f"{redis.prefix}lease:{KEY[0]}:{KEY[1]}"
    assert await a.acquire_poll_lease(KEY, 10.0) is None
    await redis.admin.delete(lease)
    # No round trip: a lease is renewed only when half its lifetime is gone.
    assert await a.acquire_poll_lease(KEY, 10.0) is None
    assert not await redis.admin.exists(lease)


@pytest.mark.redis
async def test_a_lapsed_lease_goes_to_the_next_replica_that_asks(redis: RedisHarness) -> None:
    a, b = redis.store(), redis.store()
    assert await a.acquire_poll_lease(KEY, 0.05) is None
    await asyncio.sleep(0.1)  # the holder polls no more: its lease runs out
    assert await b.acquire_poll_lease(KEY, 10.0) is None
    assert await a.acquire_poll_lease(KEY, 10.0) is not None


@pytest.mark.redis
async def test_the_lease_of_a_replica_that_died_goes_to_its_follower_once_it_is_missed(
    redis: RedisHarness,
) -> None:
    doomed, survivor = redis.store(liveness_ttl=0.3), redis.store(liveness_ttl=0.3)
    lapsed: asyncio.Queue[list[JobKey]] = asyncio.Queue()
    survivor.on_lease_lapsed(lapsed.put_nowait)
    assert await doomed.acquire_poll_lease(KEY, 600.0) is None
    assert await survivor.acquire_poll_lease(KEY, 600.0) is not None
    await doomed.aclose()  # as a crash: its lease stays, its heartbeat stops
    async with asyncio.timeout(5):  # told once the doomed one's liveness lapsed
        assert await lapsed.get() == [KEY]
    assert await survivor.acquire_poll_lease(KEY, 600.0) is None


@pytest.mark.redis
async def test_a_released_lease_goes_to_its_follower_at_once(redis: RedisHarness) -> None:
    holder, follower = redis.store(), redis.store()
    lapsed: asyncio.Queue[list[JobKey]] = asyncio.Queue()
    follower.on_lease_lapsed(lapsed.put_nowait)
    async with Registry(follower):  # its listener hears the release
        await follower.wait_listening()
        assert await holder.acquire_poll_lease(KEY, 600.0) is None
        assert await follower.acquire_poll_lease(KEY, 600.0) is not None
        holder.release_poll_lease(KEY)  # e.g. its waiters left
        async with asyncio.timeout(5):
            assert await lapsed.get() == [KEY]
        assert await follower.acquire_poll_lease(KEY, 600.0) is None


@pytest.mark.redis
async def test_a_resolved_job_grants_no_lease_and_its_result_is_delivered(
    redis: RedisHarness,
) -> None:
    a, b = redis.store(), redis.store()
    await a.put_first(KEY, resolution(source="webhook"))
    async with Registry(b) as replica_b:
        delivered: list[Resolution] = []
        replica_b.on_resolved(lambda key, found: delivered.append(found))
        assert await b.acquire_poll_lease(KEY, 10.0) is not None
    assert delivered == [resolution(source="webhook")]


@pytest.mark.redis
async def test_storing_a_result_deletes_the_lease(redis: RedisHarness) -> None:
    a = redis.store()
    assert await a.acquire_poll_lease(KEY, 600.0) is None
    await a.put_first(KEY, resolution())
    assert not await redis.admin.exists(f"{redis.prefix}lease:{KEY[0]}:{KEY[1]}")


@pytest.mark.redis
async def test_a_result_announced_while_disconnected_is_read_after_reconnecting(
    redis: RedisHarness,
) -> None:
    store = redis.store(reconnect_max_delay=0.1)
    announced = Deliveries(store)
    await store.wait_listening()
    assert await store.get(KEY) is None  # now awaited on this replica
    # Another replica stored it, and its announcement never reached this one:
    await redis.admin.set(
        f"{redis.prefix}result:{KEY[0]}:{KEY[1]}", encode_resolution(resolution())
    )
    assert await redis.kill_connections(store, "pubsub") == 1
    assert await announced.next() == (KEY, resolution())


@pytest.mark.redis
async def test_a_killed_command_connection_is_reopened_transparently(
    redis: RedisHarness,
) -> None:
    store = redis.store()
    assert await store.get(KEY) is None
    assert await redis.kill_connections(store, "normal") >= 1
    assert await store.put_first(KEY, resolution()) == resolution()


@pytest.mark.redis
async def test_the_prefix_separates_deployments(redis: RedisHarness) -> None:
    await redis.store().put_first(KEY, resolution())
    other = RedisResultStore(redis.url, prefix=f"{redis.prefix}other:")
    try:
        assert await other.get(KEY) is None
        assert await other.acquire_poll_lease(KEY, 1.0) is None
    finally:
        await other.aclose()


@pytest.mark.redis
async def test_an_unreadable_record_is_ignored(
    redis: RedisHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.admin.set(f"{redis.prefix}result:{KEY[0]}:{KEY[1]}", b"\x00 not json")
    with caplog.at_level(logging.WARNING, logger="fastwait.store.redis"):
        assert await redis.store().get(KEY) is None
    assert "unreadable" in caplog.text


@pytest.mark.redis
async def test_a_burst_of_commands_shares_a_few_connections(redis: RedisHarness) -> None:
    store = redis.store()
    keys = [("compress", f"job-{n}") for n in range(200)]
    await asyncio.gather(*(store.acquire_poll_lease(key, 60.0) for key in keys))
    name = f"fastwait-{store.replica_id}"
    connections = [c for c in await redis.admin.client_list() if c.get("name") == name]
    assert len(connections) <= 8  # each new connection costs five set-up commands


@pytest.mark.redis
async def test_a_holder_that_was_missed_while_it_stalled_asks_again_before_polling(
    redis: RedisHarness,
) -> None:
    stalled, other = redis.store(), redis.store()
    assert await stalled.acquire_poll_lease(KEY, 600.0) is None
    # Its event loop stalled past its liveness: its key expired, and the other took over.
    await redis.admin.delete(f"{redis.prefix}replica:{stalled.replica_id}")
    assert await other.acquire_poll_lease(KEY, 600.0) is None
    await stalled._leases._beat_once()  # its next heartbeat finds it was missed
    assert await stalled.acquire_poll_lease(KEY, 600.0) is not None  # it follows now
