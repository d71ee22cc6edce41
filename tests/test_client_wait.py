"""Client.wait and the poller behind it, against the fake provider over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Literal

import attrs
import pytest

from fastwait import (
    Client,
    JobState,
    JobStatus,
    MemoryResultStore,
    PollPolicy,
    Registry,
    Resolution,
)
from fastwait.events import Event, JobResolved, PollSent, StatusSeen
from fastwait.exceptions import (
    AuthenticationError,
    ConfigurationError,
    JobCanceled,
    JobFailed,
    NotFoundError,
    TransportError,
    WaitTimeout,
)
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress
from fastwait.registry._store import JobKey
from fastwait.testing import FakeProvider

# Quick polls so tests take fractions of a second; the schedule's rules are the same.
FAST = PollPolicy(
    first_poll=0.05,
    blind_first_poll=0.05,
    floor=0.02,
    blind_step=0.05,
    ceiling=0.5,
    target_lag=0.05,
)


CLOCK_SLACK = 0.005
"""Seconds by which a poll may start early (the poller's timer slack and the event loop's
clock resolution), so a delay of ``d`` separates two requests by at least ``d - CLOCK_SLACK``."""


def compress_client(fake: FakeProvider, registry: Registry | None = None) -> Client:
    provider = ToolsFastCompress("test-key", fake.base_url("compress"))
    return Client(provider, policy=FAST, registry=registry)


async def test_wait_returns_the_succeeded_status(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.2)
    async with compress_client(fake) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert status.output is not None
    assert status.output.file_name == "photo-compressed.jpg"


async def test_a_waited_status_keeps_no_raw_payload_by_default(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    async with compress_client(fake) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.raw == {}
    assert status.metrics["input_bytes"] > 0  # what the model carries is all there


async def test_keep_raw_keeps_each_status_payload(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    provider = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Client(provider, policy=FAST, keep_raw=True) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.raw["id"] == job_id
    assert status.raw["status"] == "Succeeded"


async def test_a_failed_job_raises_job_failed_with_the_providers_code(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1, fail=True)
    async with compress_client(fake) as client:
        with pytest.raises(JobFailed) as excinfo:
            await client.wait(job_id, timeout=10)
    assert excinfo.value.code
    assert excinfo.value.status.state is JobState.FAILED


async def test_a_canceled_job_raises_job_canceled(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=30)
    async with compress_client(fake) as client:
        await client.cancel(job_id)
        with pytest.raises(JobCanceled):
            await client.wait(job_id, timeout=10)


async def test_timeout_raises_wait_timeout_and_stops_polling(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    async with compress_client(fake) as client:
        with pytest.raises(WaitTimeout) as excinfo:
            await client.wait(job_id, timeout=0.3)
        assert excinfo.value.job_id == job_id
        assert client._poller is not None
        assert not client._poller.is_tracked(job_id), "a poll is still scheduled"


async def test_an_unknown_job_fails_at_once_with_not_found(fake: FakeProvider) -> None:
    async with compress_client(fake) as client:
        with pytest.raises(NotFoundError) as excinfo:
            await client.wait("019c56457340753ba9441d7b4e6516a0", timeout=10)
    assert excinfo.value.code == "jobs.not_found"


async def test_a_bad_api_key_fails_at_once_with_authentication_error(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    async with Client(ToolsFastCompress("wrong-key", fake.base_url("compress")), policy=FAST) as c:
        with pytest.raises(AuthenticationError):
            await c.wait(job_id, timeout=10)
    assert fake.job("compress", job_id).requests == 1


@pytest.mark.parametrize("kind", ["status", "drop", "truncate"])
async def test_transient_faults_never_fail_a_job(
    fake: FakeProvider, kind: Literal["status", "drop", "truncate"]
) -> None:
    job_id = fake.create_job("compress", duration=0.2)
    fake.faults.fail_next(3, kind=kind)
    async with compress_client(fake) as client:
        status = await client.wait(job_id, timeout=20)
        stats = client.poll_stats(job_id)
    assert status.state is JobState.SUCCEEDED
    assert stats is not None
    # aiohttp itself retries a request whose kept-alive connection dropped, so at least one of
    # the three faults, not necessarily each, reaches the poller as an error.
    assert stats.transient_errors >= 1


async def test_retry_after_of_a_429_is_honored(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    fake.faults.fail_next(1, status=429, retry_after=1)
    async with compress_client(fake) as client:
        status = await client.wait(job_id, timeout=20)
    assert status.state is JobState.SUCCEEDED
    first, second = fake.job("compress", job_id).requested_at
    assert second - first >= 1.0 - CLOCK_SLACK


async def test_compressor_app_retry_after_paces_the_polls() -> None:
    async with FakeProvider(seed=2, durations=1.2, compressorapp_retry_after=0.5) as fake:
        job_id = fake.create_job("compressorapp")
        provider = CompressorApp("test-key", fake.base_url("compressorapp"))
        async with Client(provider, policy=FAST) as client:
            await client.wait(job_id, timeout=20)
        # Without Retry-After the fast policy would poll about every 0.05-0.1 s.
        times = fake.job("compressorapp", job_id).requested_at
    assert len(times) >= 2
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.5 - CLOCK_SLACK


async def test_a_retry_after_of_an_error_beyond_max_retry_after_is_cut_to_it(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    fake.faults.fail_next(1, status=429, retry_after=3600)
    policy = attrs.evolve(FAST, ceiling=30.0, max_retry_after=0.2)
    provider = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Client(provider, policy=policy) as client:
        status = await client.wait(job_id, timeout=5)
    assert status.state is JobState.SUCCEEDED


async def test_a_retry_after_of_a_status_beyond_max_retry_after_is_cut_to_it() -> None:
    async with FakeProvider(seed=2, durations=0.3, compressorapp_retry_after=3600) as fake:
        job_id = fake.create_job("compressorapp")
        provider = CompressorApp("test-key", fake.base_url("compressorapp"))
        policy = attrs.evolve(FAST, max_retry_after=0.2)
        async with Client(provider, policy=policy) as client:
            status = await client.wait(job_id, timeout=5)
    assert status.state is JobState.SUCCEEDED


async def test_many_waiters_share_one_stream_of_polls(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.3)
    async with compress_client(fake) as client:
        statuses = await asyncio.gather(*(client.wait(job_id, timeout=10) for _ in range(20)))
        stats = client.poll_stats(job_id)
    assert {s.state for s in statuses} == {JobState.SUCCEEDED}
    assert stats is not None
    assert fake.job("compress", job_id).requests == stats.polls


async def test_a_result_from_another_source_stops_polling(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    events: list[Event] = []
    polled = asyncio.Event()

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, StatusSeen) and event.source == "poll":
            polled.set()

    registry = Registry(on_event=on_event)
    async with compress_client(fake, registry=registry) as client:
        waiter = asyncio.create_task(client.wait(job_id, timeout=10))
        async with asyncio.timeout(10):
            await polled.wait()  # the job is being polled
        webhook = JobStatus(id=job_id, provider="compress", state=JobState.SUCCEEDED)
        await registry.publish(webhook, source="webhook")
        assert await waiter == webhook
        resolution = await client.wait_resolution(job_id)
        assert resolution.source == "webhook"
        assert client._poller is not None
        assert not client._poller.is_tracked(job_id), "a poll is still scheduled"
    # Closing awaited any poll in flight: none was sent after the webhook resolved the job.
    kinds = [type(event) for event in events]
    assert PollSent not in kinds[kinds.index(JobResolved) :]
    assert fake.job("compress", job_id).requests == kinds.count(PollSent)


async def test_as_completed_yields_every_job_in_the_order_they_resolved(
    fake: FakeProvider,
) -> None:
    slow = fake.create_job("compress", duration=0.8)
    failing = fake.create_job("compress", duration=0.1, fail=True)
    quick = fake.create_job("compress", duration=0.3)
    resolved: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, JobResolved):
            resolved.append(event.job_id)

    async with (
        Registry(on_event=on_event) as registry,
        compress_client(fake, registry=registry) as client,
    ):
        results = [r async for r in client.as_completed([slow, failing, quick], timeout=10)]
    assert [r.job_id for r in results] == resolved
    assert sorted(resolved) == sorted([slow, failing, quick])
    assert {r.job_id: r.succeeded for r in results} == {slow: True, failing: False, quick: True}
    assert all(r.source == "poll" and r.polls >= 1 for r in results)


async def test_as_completed_reports_timeouts_without_stopping(fake: FakeProvider) -> None:
    endless = fake.create_job("compress", duration=60)
    quick = fake.create_job("compress", duration=0.1)
    async with compress_client(fake) as client:
        results = {r.job_id: r async for r in client.as_completed([endless, quick], timeout=0.5)}
    assert isinstance(results[endless].error, WaitTimeout)
    assert results[quick].succeeded


async def test_as_completed_keeps_no_task_per_job(fake: FakeProvider) -> None:
    job_ids = [fake.create_job("compress", duration=0.3) for _ in range(400)]
    tasks_before = len(asyncio.all_tasks())
    async with compress_client(fake) as client:
        completed = client.as_completed(job_ids, timeout=10)
        first = await anext(completed)
        tasks_while_waiting = len(asyncio.all_tasks())
        rest = [result async for result in completed]
    assert first.succeeded
    assert len(rest) == 399
    # The scheduler and the requests in flight, in the client and in the fake it talks to
    # (at most 32 connections each way): never one task per job, let alone two.
    assert tasks_while_waiting - tasks_before < 200


async def test_as_completed_counts_polls_even_for_a_consumer_far_behind(
    fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The poller keeps the stats of only the most recent finished jobs (10,000; 2 here):
    # outcomes read long after their job ended must still say how many polls it took.
    monkeypatch.setattr("fastwait.polling._poller._RECENT_STATS", 2)
    job_ids = [fake.create_job("compress", duration=0.1) for _ in range(6)]
    resolved: set[str] = set()
    every_job_resolved = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, JobResolved):
            resolved.add(event.job_id)
            if resolved == set(job_ids):
                every_job_resolved.set()

    async with (
        Registry(on_event=on_event) as registry,
        compress_client(fake, registry=registry) as client,
    ):
        completed = client.as_completed(job_ids, timeout=10)
        first = await anext(completed)
        async with asyncio.timeout(10):
            await every_job_resolved.wait()  # every other job ends before it is read
        forgotten = [job_id for job_id in job_ids if client.poll_stats(job_id) is None]
        rest = [result async for result in completed]
    assert len(forgotten) == 4, "the poller still kept the stats of the jobs read late"
    assert len(rest) == 5
    assert all(r.succeeded and r.polls >= 1 for r in [first, *rest])


async def test_as_completed_reports_a_malformed_id_and_waits_for_the_others(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    async with compress_client(fake) as client:
        results = {r.job_id: r async for r in client.as_completed(["a/b", job_id], timeout=10)}
    assert isinstance(results["a/b"].error, ConfigurationError)
    assert results[job_id].succeeded


async def test_as_completed_ends_every_job_with_the_error_of_a_store_it_cannot_read(
    fake: FakeProvider, tmp_path: Path
) -> None:
    ids = [fake.create_job("compress", duration=0.1) for _ in range(3)]
    async with Registry(state=tmp_path) as registry, compress_client(fake, registry) as client:
        async with asyncio.timeout(10):  # no timeout of its own: a hang would be forever
            results = [r async for r in client.as_completed(ids)]
    assert sorted(r.job_id for r in results) == sorted(ids)
    assert all(isinstance(r.error, ConfigurationError) for r in results)
    assert all("cannot open state file" in str(r.error) for r in results)


async def test_as_completed_raises_when_its_client_closes_while_jobs_are_still_starting(
    fake: FakeProvider,
) -> None:
    # Jobs start in turns of 500 store look-ups; the client closes after the first turn.
    ids = ["a/b", *(f"job-{n}" for n in range(1200))]
    async with Registry() as registry:
        client = compress_client(fake, registry)
        async with contextlib.aclosing(client.as_completed(ids)) as results:
            async with asyncio.timeout(10):
                first = await anext(results)
                await client.aclose()
                with pytest.raises(RuntimeError, match="closed"):
                    await anext(results)
    assert first.job_id == "a/b"


async def test_as_completed_yields_a_stored_result_without_polling(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    registry = Registry()
    await registry.publish(
        JobStatus(id=job_id, provider="compress", state=JobState.SUCCEEDED), source="webhook"
    )
    async with compress_client(fake, registry=registry) as client:
        results = [r async for r in client.as_completed([job_id, job_id], timeout=10)]
    assert [(r.job_id, r.source) for r in results] == [(job_id, "webhook")]
    assert fake.job("compress", job_id).requests == 0


async def test_leaving_as_completed_early_stops_waiting_for_the_rest(fake: FakeProvider) -> None:
    quick = fake.create_job("compress", duration=0.1)
    endless = [fake.create_job("compress", duration=60) for _ in range(3)]
    registry = Registry()
    async with compress_client(fake, registry=registry) as client:
        async with contextlib.aclosing(client.as_completed([quick, *endless], timeout=10)) as jobs:
            async for result in jobs:
                assert result.job_id == quick
                break
        assert all(registry.waiters(("compress", job_id)) == 0 for job_id in endless)
        assert client._poller is not None
        assert not any(client._poller.is_tracked(job_id) for job_id in endless)


async def test_progress_callback_sees_the_percent_grow() -> None:
    async with FakeProvider(seed=3, durations=1.0, progress_noise=0.0) as fake:
        job_id = fake.create_job("compress")
        seen: list[float] = []
        policy = PollPolicy(first_poll=0.1, floor=0.1, ceiling=0.1, jitter=0.0)
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        async with Client(
            provider, policy=policy, on_progress=lambda s: seen.append(s.progress_percent or 0)
        ) as client:
            await client.wait(job_id, timeout=10)
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert 0 < seen[0] < seen[-1] < 100


async def test_hundreds_of_jobs_resolve_through_a_few_connections() -> None:
    # How few polls each job costs is measured by `python -m tests.benchmarks polling`.
    async with FakeProvider(seed=4, durations=0.5, progress_noise=5.0) as fake:
        ids = [fake.create_job("compress") for _ in range(300)]
        policy = PollPolicy(first_poll=0.25, floor=0.05)
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        async with Client(provider, policy=policy, max_connections=16) as client:
            results = [r async for r in client.as_completed(ids, timeout=30)]
            polls = {job_id: client.poll_stats(job_id) for job_id in ids}
    assert sorted(r.job_id for r in results) == sorted(ids)
    assert all(r.succeeded for r in results)
    # Every request the fake saw was a poll the client counted, and no job went unpolled.
    assert all(
        (stats := polls[i]) is not None and fake.job("compress", i).requests == stats.polls >= 1
        for i in ids
    )


async def test_media_jobs_are_polled_blind_until_done(fake: FakeProvider) -> None:
    job_id = fake.create_job("media", file_name="clip.mp4", duration=0.2)
    async with Client(MediaJobs(fake.base_url("media")), policy=FAST) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert status.download_url


async def test_submit_and_wait_is_one_line(fake: FakeProvider, tmp_path: object) -> None:
    from pathlib import Path

    photo = Path(str(tmp_path)) / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    async with compress_client(fake) as client:
        status = await client.submit_and_wait(photo, timeout=10)
    assert status.state is JobState.SUCCEEDED


async def test_wait_rejects_a_non_positive_timeout(fake: FakeProvider) -> None:
    async with compress_client(fake) as client:
        with pytest.raises(ConfigurationError):
            await client.wait("019c56457340753ba9441d7b4e6516a0", timeout=0)


async def test_a_closed_client_refuses_work(fake: FakeProvider) -> None:
    client = compress_client(fake)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.status("019c56457340753ba9441d7b4e6516a0")


async def test_closing_a_client_ends_the_waits_of_other_tasks(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    client = compress_client(fake)  # with a registry of its own
    async with client:
        waiting = asyncio.create_task(client.wait(job_id))
        await asyncio.sleep(0)  # the wait has begun
    async with asyncio.timeout(5):
        with pytest.raises(RuntimeError, match="closed"):
            await waiting


@pytest.mark.parametrize("bad_id", ["", "../etc/passwd", "a b", "x/y"])
async def test_a_malformed_job_id_is_refused_before_any_request(
    fake: FakeProvider, bad_id: str
) -> None:
    async with compress_client(fake) as client:
        with pytest.raises(ConfigurationError, match="job id"):
            await client.wait(bad_id, timeout=10)
    assert fake.request_count == 0


class _StoreFailingOnce(MemoryResultStore):
    """A store whose first write fails as a dropped Redis connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        if not self.failures:
            self.failures += 1
            raise TransportError("store unavailable")
        return await super().put_first(key, resolution)


class _CountingStore(MemoryResultStore):
    """A store that counts its reads; its first read may be held until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.reading = asyncio.Event()
        self.let_go: asyncio.Event | None = None

    async def get(self, key: JobKey) -> Resolution | None:
        self.reads += 1
        stored = await super().get(key)  # what the store held when the read began
        if self.let_go is not None and self.reads == 1:
            self.reading.set()
            await self.let_go.wait()
        return stored


async def test_a_wait_reads_the_store_once(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    store = _CountingStore()
    async with compress_client(fake, registry=Registry(store)) as client:
        await client.wait(job_id, timeout=10)
    assert store.reads == 1


async def test_a_result_stored_while_the_store_is_read_reaches_the_waiter(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=60)
    store = _CountingStore()
    store.let_go = asyncio.Event()
    registry = Registry(store)
    async with compress_client(fake, registry=registry) as client:
        waiting = asyncio.create_task(client.wait_resolution(job_id, timeout=10))
        await store.reading.wait()
        status = JobStatus(id=job_id, provider="compress", state=JobState.SUCCEEDED)
        await registry.publish(status, source="webhook")
        store.let_go.set()
        resolution = await waiting
    assert resolution.source == "webhook"
    assert fake.job("compress", job_id).requests == 0


async def test_a_store_failure_on_the_result_is_retried_not_lost(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    store = _StoreFailingOnce()
    async with compress_client(fake, registry=Registry(store)) as client:
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert store.failures == 1
