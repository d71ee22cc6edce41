"""SyncClient: the async engine driven from plain threads, against the fake over loopback.

The fake runs on the test's own loop; the client under test runs its engine on a thread of its
own, so each blocking call is made from a worker thread (``asyncio.to_thread``) while the fake
keeps answering on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import ManualClock

from fastwait import (
    Client,
    JobCanceled,
    JobFailed,
    JobState,
    JobStatus,
    PollPolicy,
    SyncClient,
    WaitTimeout,
)
from fastwait.exceptions import ConfigurationError, NotFoundError
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider

T = TypeVar("T")

FAST = PollPolicy(
    first_poll=0.05,
    blind_first_poll=0.05,
    floor=0.02,
    blind_step=0.05,
    ceiling=0.5,
    target_lag=0.05,
)


def compress(fake: FakeProvider) -> ToolsFastCompress:
    return ToolsFastCompress("test-key", fake.base_url("compress"))


def loop_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("fastwait-")]


async def in_thread(call: Callable[[], T]) -> T:
    """``call()`` on a worker thread: a blocking SyncClient call, while the fake serves."""
    return await asyncio.to_thread(call)


async def waiters_of(sync: SyncClient, job_id: str) -> int:
    async def count() -> int:
        return sync.registry.waiters((sync.provider.name, job_id))

    return await in_thread(lambda: sync.run(count()))


# --- the async API's answers, in the calling thread ----------------------------------------


async def test_wait_returns_the_succeeded_status(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.2)
    with SyncClient(compress(fake), policy=FAST) as sync:
        status = await in_thread(lambda: sync.wait(job_id, timeout=10))
    assert status.state is JobState.SUCCEEDED
    assert status.id == job_id


async def test_a_failed_job_raises_job_failed_in_the_calling_thread(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1, fail=True)
    with SyncClient(compress(fake), policy=FAST) as sync, pytest.raises(JobFailed) as raised:
        await in_thread(lambda: sync.wait(job_id, timeout=10))
    assert raised.value.status.id == job_id


async def test_a_timeout_raises_wait_timeout_and_leaves_no_waiter(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    with SyncClient(compress(fake), policy=FAST) as sync:
        with pytest.raises(WaitTimeout) as raised:
            await in_thread(lambda: sync.wait(job_id, timeout=0.2))
        assert await waiters_of(sync, job_id) == 0
    assert raised.value.job_id == job_id


async def test_an_unknown_job_raises_not_found(fake: FakeProvider) -> None:
    with SyncClient(compress(fake), policy=FAST) as sync, pytest.raises(NotFoundError):
        await in_thread(lambda: sync.wait("019c0000-0000-7000-8000-000000000000", timeout=10))


async def test_bad_arguments_are_refused_in_the_calling_thread(fake: FakeProvider) -> None:
    with SyncClient(compress(fake), policy=FAST) as sync:
        with pytest.raises(ConfigurationError):
            sync.wait("019c0000-0000-7000-8000-000000000000", timeout=0)
        with pytest.raises(ConfigurationError):
            sync.as_completed([], timeout=-1)
    with pytest.raises(ConfigurationError):
        SyncClient(compress(fake), max_connections=0)
    assert loop_threads() == []


async def test_submit_and_wait_then_download(fake: FakeProvider, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 pretend jpeg")
    with SyncClient(compress(fake), policy=FAST) as sync:
        status = await in_thread(lambda: sync.submit_and_wait(photo, timeout=10))
        path = await in_thread(lambda: sync.download(status.id, tmp_path / "out", status=status))
    assert status.state is JobState.SUCCEEDED
    assert path.parent == tmp_path / "out"
    assert path.stat().st_size > 0


async def test_status_then_cancel_ends_the_wait_with_job_canceled(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    with SyncClient(compress(fake), policy=FAST) as sync:
        assert (await in_thread(lambda: sync.status(job_id))).state is JobState.RUNNING
        await in_thread(lambda: sync.cancel(job_id))
        with pytest.raises(JobCanceled):
            await in_thread(lambda: sync.wait(job_id, timeout=10))


async def test_wait_resolution_says_the_source(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    with SyncClient(compress(fake), policy=FAST) as sync:
        resolution = await in_thread(lambda: sync.wait_resolution(job_id, timeout=10))
    assert resolution.source == "poll"
    assert resolution.status.state is JobState.SUCCEEDED


async def test_as_completed_is_a_plain_iterator_in_completion_order(fake: FakeProvider) -> None:
    slow = fake.create_job("compress", duration=0.8)
    failing = fake.create_job("compress", duration=0.1, fail=True)
    quick = fake.create_job("compress", duration=0.4)
    with SyncClient(compress(fake), policy=FAST) as sync:
        results = await in_thread(lambda: list(sync.as_completed([slow, failing, quick], 10)))
    assert [r.job_id for r in results] == [failing, quick, slow]
    assert [r.succeeded for r in results] == [False, True, True]


async def test_closing_as_completed_early_stops_waiting_for_the_rest(fake: FakeProvider) -> None:
    quick = fake.create_job("compress", duration=0.1)
    endless = fake.create_job("compress", duration=60)
    with SyncClient(compress(fake), policy=FAST) as sync:

        def first_only() -> str:
            with contextlib.closing(sync.as_completed([quick, endless], timeout=30)) as results:
                return next(results).job_id

        assert await in_thread(first_only) == quick
        assert await waiters_of(sync, endless) == 0


# --- one engine for every thread -----------------------------------------------------------


def finished_jobs(fake: FakeProvider, clock: ManualClock, count: int) -> list[str]:
    """``count`` jobs that have all ended by the fake's clock."""
    ids = [fake.create_job("compress", duration=1.0) for _ in range(count)]
    clock.advance(10)
    return ids


def await_from_threads(sync: SyncClient, job_ids: list[str], threads: int) -> list[JobStatus]:
    """Each job awaited by two of ``threads`` threads, all at once; every status returned."""

    def share(index: int) -> list[JobStatus]:
        mine = [j for n, j in enumerate(job_ids) if n % threads in (index, (index + 1) % threads)]
        return [sync.wait(job_id, timeout=60) for job_id in mine]

    with ThreadPoolExecutor(threads) as pool:
        return [status for part in pool.map(share, range(threads)) for status in part]


async def test_32_threads_awaiting_1000_jobs_send_the_requests_of_one_async_client() -> None:
    async_clock, sync_clock = ManualClock(), ManualClock()
    async with FakeProvider(seed=7, clock=async_clock) as fake:
        job_ids = finished_jobs(fake, async_clock, 1000)
        async with Client(compress(fake), policy=FAST) as client:
            await asyncio.gather(*(client.wait(job_id, timeout=60) for job_id in job_ids))
        async_requests = fake.request_count
    async with FakeProvider(seed=7, clock=sync_clock) as fake:
        job_ids = finished_jobs(fake, sync_clock, 1000)
        with SyncClient(compress(fake), policy=FAST) as sync:
            statuses = await in_thread(lambda: await_from_threads(sync, job_ids, 32))
        sync_requests = fake.request_count
    assert len(statuses) == 2000
    assert {status.id for status in statuses} == set(job_ids)
    assert {status.state for status in statuses} == {JobState.SUCCEEDED}
    assert sync_requests == async_requests


async def test_running_jobs_awaited_from_32_threads_are_polled_by_one_poller() -> None:
    async with FakeProvider(seed=8, durations=0.3) as fake:
        job_ids = [fake.create_job("compress") for _ in range(1000)]
        with SyncClient(compress(fake), policy=FAST) as sync:
            statuses = await in_thread(lambda: await_from_threads(sync, job_ids, 32))

            async def polls() -> dict[str, int]:
                stats = {job_id: sync.async_client.poll_stats(job_id) for job_id in job_ids}
                return {job_id: s.polls if s else 0 for job_id, s in stats.items()}

            polled = await in_thread(lambda: sync.run(polls()))
        requested = {job_id: fake.job("compress", job_id).requests for job_id in job_ids}
    assert {status.state for status in statuses} == {JobState.SUCCEEDED}
    assert len(statuses) == 2000
    # Every request the fake saw was one poll of the one poller, however many threads waited.
    assert requested == polled


# --- lifecycle ------------------------------------------------------------------------------


async def test_close_leaves_no_thread(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    sync = SyncClient(compress(fake), policy=FAST)
    assert len(loop_threads()) == 1
    await in_thread(lambda: sync.wait(job_id, timeout=10))
    sync.close()
    sync.close()  # idempotent
    assert loop_threads() == []


async def test_a_closed_client_refuses_calls_with_runtime_error(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    with SyncClient(compress(fake), policy=FAST) as sync:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        sync.wait(job_id)


async def test_closing_ends_the_waits_of_other_threads_with_runtime_error(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=60)
    seen: asyncio.Queue[JobStatus] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def polled(status: JobStatus) -> None:
        loop.call_soon_threadsafe(seen.put_nowait, status)

    sync = SyncClient(compress(fake), policy=FAST, on_progress=polled)
    waiting = asyncio.ensure_future(in_thread(lambda: sync.wait(job_id)))
    await seen.get()  # polled: the wait is under way
    await in_thread(sync.close)
    with pytest.raises(RuntimeError):
        await waiting
    assert loop_threads() == []


def abandon_a_client(fake: FakeProvider) -> threading.Thread:
    """Make a SyncClient and drop it unclosed; its loop thread."""
    sync = SyncClient(compress(fake), policy=FAST)
    [thread] = loop_threads()
    del sync
    gc.collect()
    return thread


async def test_an_unclosed_client_warns_and_ends_its_thread_when_collected(
    fake: FakeProvider,
) -> None:
    with pytest.warns(ResourceWarning, match="unclosed SyncClient"):
        thread = abandon_a_client(fake)
    await in_thread(thread.join)
    assert loop_threads() == []


async def test_a_call_from_the_loop_thread_is_refused(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    with SyncClient(compress(fake), policy=FAST) as sync:

        async def call_back_in() -> None:
            sync.status(job_id)

        with pytest.raises(RuntimeError, match="own loop thread"):
            await in_thread(lambda: sync.run(call_back_in()))


INTERRUPTED = textwrap.dedent(
    """
    import sys, threading
    from fastwait import PollPolicy, SyncClient
    from fastwait.providers import ToolsFastCompress

    url, job_id = sys.argv[1:]
    def polled(status):
        print("polled", flush=True)
    sync = SyncClient(
        ToolsFastCompress("test-key", url), policy=PollPolicy(first_poll=0.05), on_progress=polled
    )

    async def waiters():
        return sync.registry.waiters(("compress", job_id))

    try:
        sync.wait(job_id, cancel_remote=True)
    except KeyboardInterrupt:
        print("interrupted, waiters:", sync.run(waiters()), flush=True)
    sync.close()
    print("threads:", [t.name for t in threading.enumerate() if t.name.startswith("fastwait-")])
    """
)


async def test_ctrl_c_interrupts_a_wait_and_cancels_it_on_the_loop(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=60)
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, str(script), fake.base_url("compress"), job_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line == b"polled\n"
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    lines = [line for line in stdout.decode().splitlines() if line != "polled"]
    assert lines == ["interrupted, waiters: 0", "threads: []"]
    # cancel_remote: the interrupted wait asked the API to cancel the job it gave up on.
    assert fake.job("compress", job_id).canceled


FORKED = textwrap.dedent(
    """
    import os, sys
    from fastwait import SyncClient
    from fastwait.providers import ToolsFastCompress

    sync = SyncClient(ToolsFastCompress("test-key", sys.argv[1]))
    child = os.fork()
    if child == 0:
        try:
            sync.status("job")
        except RuntimeError as error:
            print("child:", error, flush=True)
        os._exit(0)
    os.waitpid(child, 0)
    sync.close()
    """
)


async def test_a_client_used_in_a_forked_process_says_so_instead_of_hanging(
    fake: FakeProvider, tmp_path: Path
) -> None:
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, str(script), fake.base_url("compress")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert "child: this fastwait loop thread belongs to the process that made it" in stdout.decode()
    assert fake.request_count == 0
