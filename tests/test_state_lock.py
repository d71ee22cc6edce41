"""One run per ``--state`` file: a second ``fastwait wait`` on the same journal is refused with one
line and exit status 2, never silent double work. Real processes, a real fake API."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
from pathlib import Path

import aiohttp
import seed_payloads as seeds

from fastwait import StandardWebhookSigner
from fastwait.testing import FakeProvider

SECRET = "whsec_" + base64.b64encode(b"state-lock-tests-hmac-secret-01").decode()


async def start(fake: FakeProvider, state: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "wait", "--provider", "compress",
        "--base-url", fake.base_url("compress"), "--jsonl", "--state", str(state), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FASTWAIT_API_KEY": "test-key", "FASTWAIT_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip


async def test_a_second_run_on_one_state_file_is_refused_and_the_first_reports_every_job(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = tmp_path / "state.db"
    # Jobs that outlast the test: the first run ends when the test sends their webhooks.
    async with FakeProvider(seed=11, durations=600.0) as fake:
        ids = [fake.create_job("compress") for _ in range(3)]
        first = await start(fake, state, "--listen", f"127.0.0.1:{port}", *ids)
        try:
            assert first.stderr is not None
            async with asyncio.timeout(30):
                said = await first.stderr.readline()  # it holds the lock before it listens
            assert b"receiving webhooks" in said
            second = await start(fake, state, *ids)
            async with asyncio.timeout(30):
                second_out, second_err = await second.communicate()
            async with aiohttp.ClientSession() as session:
                for job_id in ids:
                    body = json.dumps({**seeds.TF_COMPRESS_STATUS, "id": job_id}).encode()
                    headers = StandardWebhookSigner(SECRET).headers(f"msg_{job_id}", body)
                    headers["Content-Type"] = "application/json"
                    hook = f"http://127.0.0.1:{port}/hooks/compress"
                    async with session.post(hook, data=body, headers=headers) as response:
                        assert response.status == 200
            async with asyncio.timeout(30):
                first_out, first_err = await first.communicate()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
    assert second.returncode == 2
    assert second_out == b""
    assert second_err.decode().splitlines() == [
        f"fastwait: error: {state} is in use by another fastwait run (one run per --state file)"
    ]
    assert first.returncode == 0, first_err.decode()
    lines = [json.loads(line) for line in first_out.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(ids)


async def test_the_next_run_after_the_first_ended_is_not_refused(
    fake: FakeProvider, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    for _ in range(2):
        job_id = fake.create_job("compress", duration=0.05)
        run = await start(fake, state, job_id)
        async with asyncio.timeout(30):
            out, err = await run.communicate()
        assert run.returncode == 0, err.decode()
        assert json.loads(out)["id"] == job_id
