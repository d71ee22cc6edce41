"""Giving up on a wait leaves the remote job alone, unless ``cancel_remote=True`` asks otherwise."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fastwait import (
    Client,
    JobStatus,
    PollPolicy,
    UnsupportedOperationError,
    WaitTimeout,
)
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress
from fastwait.testing import FakeProvider

FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.2, target_lag=0.05)


def compress_client(fake: FakeProvider) -> Client:
    return Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST)


async def test_by_default_a_timed_out_wait_leaves_the_remote_job_running(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=30)
    async with compress_client(fake) as client:
        with pytest.raises(WaitTimeout):
            await client.wait(job_id, timeout=0.2)
    assert not fake.job("compress", job_id).canceled


async def test_cancel_remote_cancels_the_job_when_the_wait_times_out(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=30)
    async with compress_client(fake) as client:
        with pytest.raises(WaitTimeout):
            await client.wait(job_id, timeout=0.2, cancel_remote=True)
        assert fake.job("compress", job_id).canceled  # before WaitTimeout reached the caller


async def test_cancel_remote_cancels_the_job_when_the_waiting_task_is_cancelled(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=30)
    polled = asyncio.Event()

    def seen(status: JobStatus) -> None:
        polled.set()

    async with Client(
        ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST, on_progress=seen
    ) as client:
        waiting = asyncio.create_task(client.wait(job_id, cancel_remote=True))
        await asyncio.wait_for(polled.wait(), timeout=10)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    # Leaving the client waited for the cancel request sent in the background.
    assert fake.job("compress", job_id).canceled


async def test_cancel_remote_spares_a_job_another_caller_still_awaits(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.6)
    async with compress_client(fake) as client:
        patient = asyncio.create_task(client.wait(job_id, timeout=10))
        with pytest.raises(WaitTimeout):
            await client.wait(job_id, timeout=0.1, cancel_remote=True)
        assert not fake.job("compress", job_id).canceled
        assert (await patient).id == job_id


async def test_cancel_remote_is_refused_before_any_request_for_an_api_that_cannot_cancel(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compressorapp")
    provider = CompressorApp("test-key", fake.base_url("compressorapp"))
    async with Client(provider, policy=FAST) as client:
        with pytest.raises(UnsupportedOperationError):
            await client.wait(job_id, timeout=5, cancel_remote=True)
    assert fake.request_count == 0


async def test_submit_and_wait_refuses_cancel_remote_before_submitting(
    fake: FakeProvider, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 pretend jpeg")
    async with Client(MediaJobs(fake.base_url("media")), policy=FAST) as client:
        with pytest.raises(UnsupportedOperationError):
            await client.submit_and_wait(photo, preset="web", cancel_remote=True)
    assert fake.jobs() == []
