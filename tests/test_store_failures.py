"""Every store failure ends in a clear outcome for every waiter: never a hang, never silence."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fastwait.exceptions import ConfigurationError
from fastwait.registry._sqlite import SQLiteResultStore
from fastwait.testing import FakeProvider

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")


async def test_a_failing_command_fails_only_its_caller_and_later_callers_are_answered(
    tmp_path: Path,
) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        await store.get(KEY)  # the file is open and the writer idle
        release = threading.Event()

        def hold(connection: sqlite3.Connection, now: float) -> None:
            release.wait(5)

        def fail(connection: sqlite3.Connection, now: float) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        held = asyncio.ensure_future(store._call(hold))
        await asyncio.sleep(0.05)  # the writer is now inside `hold`; the rest queue as one batch
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


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
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
