"""The ``fastwait`` command, run as a real subprocess against the fake provider."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from fastwait.testing import FakeProvider

JSONL_KEYS = {"provider", "id", "state", "source", "polls", "elapsed_s", "output", "error"}


async def fastwait(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fastwait",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_wait_jsonl_prints_one_object_per_job(fake: FakeProvider) -> None:
    ids = [fake.create_job("compress", duration=0.2) for _ in range(3)]
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--jsonl", *ids, env={"FASTWAIT_API_KEY": "test-key"},
    )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(ids)
    for line in lines:
        assert set(line) == JSONL_KEYS
        assert line["state"] == "SUCCEEDED"
        assert line["source"] == "poll"
        assert line["polls"] >= 1
        assert line["output"]["file_name"] == "photo-compressed.jpg"
        assert line["error"] is None


async def test_wait_exits_1_when_a_job_fails(fake: FakeProvider, tmp_path: Path) -> None:
    good = fake.create_job("compress", duration=0.1)
    bad = fake.create_job("compress", duration=0.1, fail=True)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{good}\n\n{bad}\n")
    code, out, _ = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--jsonl", "--ids-file", str(ids_file),
    )  # fmt: skip
    assert code == 1
    states = {line["id"]: line for line in map(json.loads, out.splitlines())}
    assert states[good]["state"] == "SUCCEEDED"
    assert states[bad]["state"] == "FAILED"
    assert states[bad]["error"]["code"]


async def test_wait_downloads_and_prints_a_summary(fake: FakeProvider, tmp_path: Path) -> None:
    job_id = fake.create_job("media", file_name="clip.mp4", duration=0.1)
    code, out, err = await fastwait(
        "wait", "--provider", "media", "--base-url", fake.base_url("media"),
        "--download", str(tmp_path), job_id,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "clip.webm").stat().st_size > 0
    assert "1/1 succeeded" in out


async def test_wait_timeout_exits_1(fake: FakeProvider) -> None:
    job_id = fake.create_job("compressorapp", duration=60)
    code, out, _ = await fastwait(
        "wait", "--provider", "compressorapp", "--base-url", fake.base_url("compressorapp"),
        "--api-key", "test-key", "--timeout", "0.5", "--jsonl", job_id,
    )  # fmt: skip
    assert code == 1
    line = json.loads(out)
    assert line["error"]["code"] == "timeout"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wait", "--provider", "compress", "abc"], "FASTWAIT_API_KEY"),
        (["wait", "--provider", "nope", "abc"], "invalid choice"),
        (["wait", "--provider", "compress", "--api-key", "k"], "job ids"),
        (["wait", "--provider", "media", "abc"], "--base-url"),
        (["wait", "--provider", "compress", "--timeout", "-1", "abc"], "positive"),
        (
            ["wait", "--provider", "compress", "--api-key", "k", "--base-url", "ftp://x", "a"],
            "http",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
async def test_bad_usage_exits_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = await fastwait(*args, env={"FASTWAIT_API_KEY": ""})
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


async def test_demo_runs_offline_and_exits_0() -> None:
    code, out, err = await fastwait("demo", "--jobs", "2", "--median", "0.3", "--seed", "5")
    assert code == 0, err
    assert "8/8 succeeded" in out
    assert "polls/job" in out


async def test_wait_listen_receives_webhooks_and_says_so() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = f"http://127.0.0.1:{port}/hooks/compress"
    async with FakeProvider(seed=7, durations=3.0, webhook_secret=secret) as fake:
        ids = [fake.create_job("compress", callback_url=hook) for _ in range(3)]
        code, out, err = await fastwait(
            "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
            "--api-key", "test-key", "--listen", f"127.0.0.1:{port}",
            "--webhook-secret", secret, "--jsonl", *ids,
        )  # fmt: skip
        polls = [fake.job("compress", job_id).requests for job_id in ids]
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(ids)
    assert {line["source"] for line in lines} == {"webhook"}
    assert polls == [0, 0, 0]


async def test_wait_listen_without_a_secret_is_bad_usage() -> None:
    code, _, err = await fastwait(
        "wait", "--provider", "compress", "--api-key", "k", "--listen", "127.0.0.1:0", "abc",
        env={"FASTWAIT_WEBHOOK_SECRET": ""},
    )  # fmt: skip
    assert code == 2
    assert "--webhook-secret" in err
