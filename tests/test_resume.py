"""A ``fastwait wait --state`` killed with SIGKILL resumes where it stopped, losing nothing.

The CLI runs as a real subprocess against the fake provider of this test process; the fake's
per-job request counters tell which jobs the restarted process polled.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fastwait.testing import FakeProvider

EARLY = [0.3 + 0.7 * n / 11 for n in range(12)]
"""Durations of the jobs that finish before the kill."""
LATE = [4.5 + 1.0 * n / 11 for n in range(12)]
"""Durations of the jobs that are still running when the process is killed."""


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(seed=7) as fake:
        yield fake


async def start_cli(
    fake: FakeProvider, state: Path, ids: Sequence[str]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fastwait",
        "wait",
        "--provider",
        "compress",
        "--base-url",
        fake.base_url("compress"),
        "--api-key",
        "test-key",
        "--state",
        str(state),
        "--jsonl",
        *ids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_result(process: asyncio.subprocess.Process) -> dict[str, Any] | None:
    assert process.stdout is not None
    line = await process.stdout.readline()
    return json.loads(line) if line else None


async def test_a_killed_wait_resumes_every_unfinished_job_and_only_those(
    provider: FakeProvider, tmp_path: Path
) -> None:
    early = [provider.create_job("compress", duration=d) for d in EARLY]
    late = [provider.create_job("compress", duration=d) for d in LATE]
    state = tmp_path / "state.db"

    first = await start_cli(provider, state, [*early, *late])
    before: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(20):
            while not set(early) <= before.keys():
                result = await read_result(first)
                assert result is not None, "the first run ended before the kill"
                before[result["id"]] = result
    finally:
        first.send_signal(signal.SIGKILL)
        await first.communicate()
    assert first.returncode == -signal.SIGKILL
    requests_at_kill = {job_id: provider.job("compress", job_id).requests for job_id in before}

    second = await start_cli(provider, state, [])
    after: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(30):
        while (result := await read_result(second)) is not None:
            assert result["id"] not in after, "a job was reported twice"
            after[result["id"]] = result
        _, stderr = await second.communicate()
    assert second.returncode == 0, stderr.decode()

    assert not before.keys() & after.keys(), "a job finished before the kill was awaited again"
    assert before.keys() | after.keys() == {*early, *late}
    assert {r["state"] for r in (*before.values(), *after.values())} == {"SUCCEEDED"}
    assert {job_id: provider.job("compress", job_id).requests for job_id in before} == (
        requests_at_kill
    ), "the restarted process polled a job whose result was stored before the kill"


async def test_resuming_a_state_file_with_nothing_unresolved_says_so(
    provider: FakeProvider, tmp_path: Path
) -> None:
    job_id = provider.create_job("compress", duration=0.0)
    state = tmp_path / "state.db"
    done = await start_cli(provider, state, [job_id])
    assert await read_result(done) is not None
    await done.communicate()
    assert done.returncode == 0

    again = await start_cli(provider, state, [])
    stdout, stderr = await again.communicate()
    assert again.returncode == 0
    assert stdout == b""
    assert b"no unresolved jobs" in stderr
