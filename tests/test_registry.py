"""The registry: shared futures, first terminal wins, early arrivals kept, nothing grows."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from fastwait import JobState, JobStatus, Registry
from fastwait.exceptions import NotFoundError, WaitTimeout
from fastwait.registry import MemoryResultStore, Resolution

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")


def status(state: JobState, percent: float | None = None, job_id: str = KEY[1]) -> JobStatus:
    return JobStatus(id=job_id, provider="compress", state=state, progress_percent=percent)


async def test_many_waiters_share_one_result() -> None:
    registry = Registry()
    waiters = [asyncio.create_task(registry.wait(KEY)) for _ in range(5)]
    await asyncio.sleep(0)
    assert registry.waiters(KEY) == 5
    assert await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    results = await asyncio.gather(*waiters)
    assert {r.state for r in results} == {JobState.SUCCEEDED}
    assert registry.waiters(KEY) == 0


async def test_cancelling_one_waiter_leaves_the_others_waiting() -> None:
    registry = Registry()
    first = asyncio.create_task(registry.wait(KEY))
    second = asyncio.create_task(registry.wait(KEY))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert registry.waiters(KEY) == 1
    await registry.publish(status(JobState.FAILED))
    assert (await second).state is JobState.FAILED
    assert first.cancelled()


async def test_one_waiter_timing_out_leaves_the_others_waiting() -> None:
    registry = Registry()
    hasty = asyncio.create_task(registry.wait(KEY, timeout=0.01))
    patient = asyncio.create_task(registry.wait(KEY))
    with pytest.raises(WaitTimeout):
        await hasty
    assert registry.waiters(KEY) == 1
    await registry.publish(status(JobState.SUCCEEDED))
    assert (await patient).state is JobState.SUCCEEDED


class GatedStore(MemoryResultStore):
    """A store whose ``get`` waits for ``opened``, as a remote store's would for its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()

    async def get(self, key: tuple[str, str]) -> Resolution | None:
        await self.opened.wait()
        return await super().get(key)


async def test_a_failure_its_waiter_never_reads_is_not_reported() -> None:
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context))
    registry = Registry(GatedStore())
    waiter = asyncio.create_task(registry.wait(KEY))
    await asyncio.sleep(0)  # registered, still looking in the store
    registry.fail(KEY, NotFoundError(404, "jobs.not_found"))
    waiter.cancel()  # leaves before it ever awaits the failed future
    await asyncio.wait([waiter])
    assert waiter.cancelled()
    del waiter  # with its traceback, the last reference to that future
    gc.collect()
    assert reported == []


async def test_a_result_published_before_anyone_waits_is_returned_at_once() -> None:
    registry = Registry()
    await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    resolution = await registry.wait_resolution(KEY, timeout=0.01)
    assert resolution.source == "webhook"
    assert resolution.status.state is JobState.SUCCEEDED


async def test_first_terminal_status_wins_and_conflicts_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry()
    assert await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    assert not await registry.publish(status(JobState.SUCCEEDED), source="poll")
    with caplog.at_level(logging.WARNING, logger="fastwait.registry"):
        assert not await registry.publish(status(JobState.FAILED), source="poll")
    assert "conflicting terminal state FAILED" in caplog.text
    resolution = await registry.resolution(KEY)
    assert resolution is not None
    assert resolution.status.state is JobState.SUCCEEDED
    assert resolution.source == "webhook"


async def test_progress_reaches_subscribers_but_resolves_nothing() -> None:
    registry = Registry()
    seen: list[float | None] = []
    unsubscribe = registry.subscribe(lambda s: seen.append(s.progress_percent), KEY)
    waiter = asyncio.create_task(registry.wait(KEY))
    await asyncio.sleep(0)
    assert not await registry.publish(status(JobState.RUNNING, 40.0))
    assert registry.timed_out(KEY, 1.0).last_status == status(JobState.RUNNING, 40.0)
    assert not waiter.done()
    unsubscribe()
    await registry.publish(status(JobState.RUNNING, 60.0))
    assert seen == [40.0]
    await registry.publish(status(JobState.SUCCEEDED, 100.0))
    await waiter


async def test_a_failing_subscriber_does_not_break_publishing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry()

    def broken(_: JobStatus) -> None:
        raise ValueError("subscriber bug")

    registry.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="fastwait.registry"):
        assert await registry.publish(status(JobState.SUCCEEDED))
    assert "status subscriber failed" in caplog.text


async def test_timeout_raises_wait_timeout_with_the_last_status() -> None:
    registry = Registry()
    waiter = asyncio.create_task(registry.wait(KEY, timeout=0.05))
    await asyncio.sleep(0)
    await registry.publish(status(JobState.RUNNING, 10.0))
    with pytest.raises(WaitTimeout) as excinfo:
        await waiter
    assert excinfo.value.last_status == status(JobState.RUNNING, 10.0)
    assert excinfo.value.job_id == KEY[1]
    assert registry.waiters(KEY) == 0


async def test_fail_raises_the_typed_error_in_every_waiter() -> None:
    registry = Registry()
    waiters = [asyncio.create_task(registry.wait(KEY)) for _ in range(3)]
    await asyncio.sleep(0)
    registry.fail(KEY, NotFoundError(404, "jobs.not_found"))
    for waiter in waiters:
        with pytest.raises(NotFoundError):
            await waiter


async def test_resolved_keys_leave_no_waiting_state_behind() -> None:
    registry = Registry()
    for n in range(100):
        job = f"job-{n}"
        waiter = asyncio.create_task(registry.wait(("compress", job)))
        await asyncio.sleep(0)
        await registry.publish(status(JobState.SUCCEEDED, job_id=job))
        await waiter
    assert registry.waiters(("compress", "job-1")) == 0
    assert not registry._waiting


async def test_early_arrivals_are_bounded_by_count() -> None:
    store = MemoryResultStore(max_results=10)
    registry = Registry(store)
    for n in range(50):
        await registry.publish(status(JobState.SUCCEEDED, job_id=f"job-{n}"))
    assert len(store) == 10
    assert await registry.resolution(("compress", "job-0")) is None
    assert await registry.resolution(("compress", "job-49")) is not None


async def test_early_arrivals_expire_after_their_ttl() -> None:
    now = [0.0]
    store = MemoryResultStore(ttl=60.0, clock=lambda: now[0])
    registry = Registry(store)
    await registry.publish(status(JobState.SUCCEEDED))
    now[0] = 59.0
    assert await registry.resolution(KEY) is not None
    now[0] = 61.0
    assert await registry.resolution(KEY) is None


async def test_resolution_listeners_hear_every_source() -> None:
    registry = Registry()
    heard: list[str] = []
    registry.on_resolved(lambda key, resolution: heard.append(resolution.source))
    await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    assert heard == ["webhook"]


async def test_a_watch_callback_is_told_the_resolution_once() -> None:
    registry = Registry()
    told: list[tuple[Any, Any]] = []
    registry.watch(KEY, lambda key, outcome: told.append((key, outcome)))
    assert registry.waiters(KEY) == 1
    await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    await registry.publish(status(JobState.SUCCEEDED), source="poll")
    assert [(key, outcome.source) for key, outcome in told] == [(KEY, "webhook")]
    assert registry.waiters(KEY) == 0


async def test_a_watch_callback_is_told_the_error_that_failed_the_waiters() -> None:
    registry = Registry()
    told: list[Any] = []
    registry.watch(KEY, lambda key, outcome: told.append(outcome))
    error = NotFoundError(404, "jobs.not_found", None)
    registry.fail(KEY, error)
    assert told == [error]


async def test_an_unwatched_callback_is_not_told() -> None:
    registry = Registry()
    told: list[Any] = []

    def callback(key: Any, outcome: Any) -> None:
        told.append(outcome)

    registry.watch(KEY, callback)
    registry.unwatch(KEY, callback)
    assert registry.waiters(KEY) == 0
    await registry.publish(status(JobState.SUCCEEDED))
    assert told == []


async def test_look_up_delivers_a_stored_result_to_the_watchers() -> None:
    registry = Registry()
    await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    told: list[Any] = []
    registry.watch(KEY, lambda key, outcome: told.append(outcome))
    assert await registry.look_up(KEY)
    assert [outcome.source for outcome in told] == ["webhook"]
    assert not await registry.look_up(("compress", "another"))


async def test_closing_the_registry_tells_watchers_it_closed() -> None:
    registry = Registry()
    told: list[Any] = []
    registry.watch(KEY, lambda key, outcome: told.append(outcome))
    await registry.aclose()
    assert len(told) == 1
    assert isinstance(told[0], RuntimeError)


async def test_a_job_is_announced_resolved_once_whatever_arrives_after() -> None:
    registry = Registry()
    heard: list[str] = []
    registry.on_resolved(lambda key, resolution: heard.append(resolution.source))
    assert await registry.publish(status(JobState.SUCCEEDED), source="poll")
    # A late webhook for the same job, then a waiter that comes after both.
    assert not await registry.publish(status(JobState.SUCCEEDED), source="webhook")
    assert (await registry.wait(KEY)).state is JobState.SUCCEEDED
    assert heard == ["poll"]


async def test_a_waiter_racing_a_duplicate_still_gets_the_first_result() -> None:
    registry = Registry()
    await registry.publish(status(JobState.SUCCEEDED), source="poll")
    waiter = asyncio.create_task(registry.wait_resolution(KEY))
    await registry.publish(status(JobState.FAILED), source="webhook")
    assert (await waiter).source == "poll"
