"""A ``fastwait wait --state`` killed with SIGKILL resumes where it stopped, losing nothing.

The CLI runs as a real subprocess against the fake provider of this test process; the fake's
per-job request counters tell which jobs the restarted process polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fastwait import Client, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider, JobPhase

EARLY = [0.3 + 0.7 * n / 11 for n in range(12)]
"""Durations of the jobs that finish before the kill."""
LATE = [0.2 + 0.8 * n / 11 for n in range(12)]
"""Durations of the jobs still running when the process is killed, counted from the kill:
they run until then, however long it takes a loaded machine to get there."""


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(seed=7) as fake:
        yield fake


async def start_cli(
    fake: FakeProvider, state: Path, ids: Sequence[str], options: Sequence[str] = ()
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
        *options,
        *ids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_result(process: asyncio.subprocess.Process) -> dict[str, Any] | None:
    assert process.stdout is not None
    line = await process.stdout.readline()
    return json.loads(line) if line else None


async def test_a_killed_wait_resumes_every_unfinished_job_and_polls_no_finished_one(
    provider: FakeProvider, tmp_path: Path
) -> None:
    early = [provider.create_job("compress", duration=d) for d in EARLY]
    late = [provider.create_job("compress", duration=3600) for _ in LATE]
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
    # The premise: the late jobs were still running, unreported, when the process died.
    now = provider.now()
    assert {provider.job("compress", i).phase_at(now) for i in late} == {JobPhase.RUNNING}
    assert not before.keys() & set(late)
    for job_id, duration in zip(late, LATE, strict=True):
        provider.job("compress", job_id).completes_at = now + duration
    requests_at_kill = {job_id: provider.job("compress", job_id).requests for job_id in before}

    second = await start_cli(provider, state, [])
    after: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(30):
        while (result := await read_result(second)) is not None:
            assert result["id"] not in after, "a job was reported twice"
            after[result["id"]] = result
        _, stderr = await second.communicate()
    assert second.returncode == 0, stderr.decode()

    # A result printed just before the kill may be printed again (its "reported" mark may not
    # have been written yet): output is at-least-once. But it is never fetched again.
    assert before.keys() | after.keys() == {*early, *late}
    assert set(late) <= after.keys()
    assert {r["state"] for r in (*before.values(), *after.values())} == {"SUCCEEDED"}
    assert {job_id: provider.job("compress", job_id).requests for job_id in before} == (
        requests_at_kill
    ), "the restarted process polled a job whose result was stored before the kill"


async def test_resuming_a_state_file_with_nothing_unreported_says_so(
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
    assert b"no unresolved or unreported jobs" in stderr


async def test_every_result_is_reported_at_least_once_when_killed_after_each_first_line(
    provider: FakeProvider, tmp_path: Path
) -> None:
    together = [provider.create_job("compress", duration=0.3) for _ in range(40)]
    spread = [provider.create_job("compress", duration=0.5 + n / 4) for n in range(8)]
    state = tmp_path / "state.db"
    reported: dict[str, int] = {}
    """Each job reported so far, with the fake's request count when it first was."""

    def report(line: dict[str, Any]) -> None:
        assert line["state"] == "SUCCEEDED"
        reported.setdefault(line["id"], provider.job("compress", line["id"]).requests)

    ids = [*together, *spread]
    for _ in range(6):
        run = await start_cli(provider, state, ids)
        ids = []  # the next runs resume
        try:
            async with asyncio.timeout(20):
                first = await read_result(run)
        finally:
            run.send_signal(signal.SIGKILL)
            rest, _ = await run.communicate()
        if first is None:
            break
        report(first)
        for printed in rest.splitlines(keepends=True):
            if printed.endswith(b"\n"):  # printed whole before the kill, so reported
                report(json.loads(printed))

    last = await start_cli(provider, state, [])
    async with asyncio.timeout(30):
        while (line := await read_result(last)) is not None:
            report(line)
        _, stderr = await last.communicate()
    assert last.returncode == 0, stderr.decode()

    assert reported.keys() == {*together, *spread}, "a result was never reported"
    assert {job_id: provider.job("compress", job_id).requests for job_id in reported} == (
        reported
    ), "a job was polled again after its result was reported"


async def test_resume_offers_a_stored_result_until_it_is_marked_reported(
    provider: FakeProvider, tmp_path: Path
) -> None:
    job_id = provider.create_job("compress", duration=0.0)
    state = tmp_path / "state.db"
    api = ToolsFastCompress("test-key", provider.base_url("compress"))
    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        await client.wait(job_id, timeout=10)
    requests = provider.job("compress", job_id).requests

    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        assert await client.resume() == []
        assert await client.resume(unreported=True) == [job_id]
        await client.wait(job_id, timeout=10)
        client.mark_reported(job_id)
    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        assert await client.resume(unreported=True) == []
    assert provider.job("compress", job_id).requests == requests, "the stored result was fetched"


async def test_a_failed_download_is_retried_by_the_resumed_run(
    provider: FakeProvider, tmp_path: Path
) -> None:
    job_id = provider.create_job("compress", duration=0.0)
    provider.expire("compress", job_id)
    state, out = tmp_path / "state.db", tmp_path / "out"
    failed = await start_cli(provider, state, [job_id], ["--download", str(out)])
    first = await read_result(failed)
    await failed.communicate()
    assert first is not None
    assert first["error"]["code"] == "download_failed"

    provider.job("compress", job_id).expired = False  # the output can be fetched again
    again = await start_cli(provider, state, [], ["--download", str(out)])
    second = await read_result(again)
    _, stderr = await again.communicate()
    assert again.returncode == 0, stderr.decode()
    assert second is not None
    assert second["id"] == job_id
    assert second["error"] is None
    assert [Path(path).name for path in second["saved"]] == ["photo-compressed.jpg"]


async def test_a_run_given_new_ids_also_reports_what_an_earlier_run_left_unreported(
    provider: FakeProvider, tmp_path: Path
) -> None:
    left = provider.create_job("compress", duration=0.0)
    state = tmp_path / "state.db"
    api = ToolsFastCompress("test-key", provider.base_url("compress"))
    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        await client.wait(left, timeout=10)  # stored, never reported: as if killed right here
    new = provider.create_job("compress", duration=0.0)

    run = await start_cli(provider, state, [new])
    stdout, stderr = await run.communicate()
    assert run.returncode == 0, stderr.decode()
    assert sorted(json.loads(line)["id"] for line in stdout.splitlines()) == sorted([left, new])


async def test_every_job_given_to_as_completed_is_journaled_before_its_first_result(
    provider: FakeProvider, tmp_path: Path
) -> None:
    # A process killed right after passing on its first result must have journaled every job
    # it was given, or the resumed run never hears of the rest.
    finished = provider.create_job("compress", duration=0.0)
    running = [provider.create_job("compress", duration=600) for _ in range(300)]
    state = tmp_path / "state.db"
    api = ToolsFastCompress("test-key", provider.base_url("compress"))
    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        await client.wait(finished, timeout=10)  # stored: the next run has it at once
    async with Registry(state=state) as registry, Client(api, registry=registry) as client:
        async for result in client.as_completed([finished, *running]):
            assert result.job_id == finished
            with contextlib.closing(sqlite3.connect(state)) as reader:
                journaled = {job_id for (job_id,) in reader.execute("SELECT job_id FROM jobs")}
            break
    assert journaled == {finished, *running}
