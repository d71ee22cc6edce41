"""SIGTERM ends ``fastwait wait`` as Ctrl-C does, and no partial download outlives a run: real
signals to a real ``fastwait`` subprocess, a download that stalls half way from a tiny API of
the test."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import seed_payloads as seeds
from aiohttp import web

from fastwait.downloads import AtomicFile, remove_stale_parts
from fastwait.testing import FakeProvider

JOB_ID = seeds.TF_JOB_ID
_HALF = 32 << 20


class StallingApi:
    """A tools.fast compress API whose one job succeeded and whose download stalls half way."""

    def __init__(self) -> None:
        self.url = ""
        self.downloading = asyncio.Event()
        self._release = asyncio.Event()

    async def status(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(seeds.TF_COMPRESS_STATUS)

    async def download(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.content_length = 2 * _HALF
        await response.prepare(request)
        # More than the socket buffers and the client's own can hold: once written, the client
        # has saved most of it, so its temporary file exists.
        await response.write(b"\xff" * _HALF)
        self.downloading.set()
        await self._release.wait()  # never: the client is stopped half way
        return response

    def release(self) -> None:
        self._release.set()


@pytest.fixture
async def api() -> AsyncIterator[StallingApi]:
    served = StallingApi()
    app = web.Application()
    app.router.add_get("/compress/job/{id}", served.status)
    app.router.add_get("/compress/job/{id}/download", served.download)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    served.url = f"http://{host}:{port}"
    try:
        yield served
    finally:
        served.release()
        await runner.cleanup()


def parts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(".fastwait-*.part"))


@pytest.mark.parametrize(
    ("sent", "exit_status", "said"),
    [(signal.SIGTERM, 143, "fastwait: terminated"), (signal.SIGINT, 130, "fastwait: interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
async def test_a_signal_during_a_download_removes_its_partial_file(
    api: StallingApi, tmp_path: Path, sent: signal.Signals, exit_status: int, said: str
) -> None:
    dest = tmp_path / "out"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "wait", "--provider", "compress",
        "--base-url", api.url, "--download", str(dest), "--jsonl", JOB_ID,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FASTWAIT_API_KEY": "test-key"},
    )  # fmt: skip
    try:
        async with asyncio.timeout(20):
            await api.downloading.wait()
        assert parts(dest)
        process.send_signal(sent)
        async with asyncio.timeout(20):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == exit_status
    assert said in err.decode()
    assert "Traceback" not in err.decode()
    assert list(dest.iterdir()) == []


async def test_a_later_run_removes_the_partial_files_a_killed_run_left(
    fake: FakeProvider, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    hour_ago = time.time() - 3600
    left = [dest / ".fastwait-0123456789abcdef.part", dest / ".fastwait-fedcba9876543210.part"]
    others = [dest / ".fastwait-notours.part", dest / "mine.part", dest / "photo.jpg"]
    for path in left + others:
        path.write_bytes(b"half")
        os.utime(path, (hour_ago, hour_ago))
    job_id = fake.create_job("compress", duration=0.05)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "wait", "--provider", "compress",
        "--base-url", fake.base_url("compress"), "--download", str(dest), "--jsonl", job_id,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FASTWAIT_API_KEY": "test-key"},
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [p.name for p in others] + ["photo-compressed.jpg"]
    )


def test_a_partial_file_being_written_is_never_removed(tmp_path: Path) -> None:
    """Its writer (here, or in another process) holds it locked, however old it looks."""
    hour_ago = time.time() - 3600
    with AtomicFile(tmp_path / "out.jpg") as out:
        out.write(b"half")
        (part,) = tmp_path.glob(".fastwait-*.part")
        os.utime(part, (hour_ago, hour_ago))
        assert remove_stale_parts(tmp_path) == []
        assert part.exists()
        out.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
