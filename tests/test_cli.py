"""The ``fastwait`` command, run as a real subprocess against the fake provider."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

import fastwait as fastwait_package
from fastwait.cli import _outcome as outcome
from fastwait.testing import FakeProvider

JSONL_KEYS = {
    "provider", "id", "state", "source", "polls", "elapsed_s", "output", "saved", "error",
}  # fmt: skip
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


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


async def test_a_multi_output_job_is_downloaded_as_its_files_not_its_zip(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # What `fastwait demo` and Client.download_outputs leave: the pages, never the archive.
    job_id = fake.create_job("convert", file_name="report.pdf", target_format="jpg", duration=0.1)
    code, out, err = await fastwait(
        "wait", "--provider", "convert", "--base-url", fake.base_url("convert"),
        "--api-key", "test-key", "--download", str(tmp_path), "--jsonl", job_id,
    )  # fmt: skip
    assert code == 0, err
    pages = ["report-1.jpg", "report-2.jpg", "report-3.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == pages
    assert [Path(path).name for path in json.loads(out)["saved"]] == pages


async def test_a_timeout_without_failures_exits_3_with_state_null(fake: FakeProvider) -> None:
    job_id = fake.create_job("compressorapp", duration=60)
    code, out, _ = await fastwait(
        "wait", "--provider", "compressorapp", "--base-url", fake.base_url("compressorapp"),
        "--api-key", "test-key", "--timeout", "0.5", "--jsonl", job_id,
    )  # fmt: skip
    assert code == 3
    line = json.loads(out)
    assert line["state"] is None
    assert line["error"]["code"] == "timeout"


async def test_a_failure_beside_a_timeout_exits_1(fake: FakeProvider) -> None:
    slow = fake.create_job("compress", duration=60)
    bad = fake.create_job("compress", duration=0.1, fail=True)
    code, out, _ = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--timeout", "3", "--jsonl", slow, bad,
    )  # fmt: skip
    states = {line["id"]: line["state"] for line in map(json.loads, out.splitlines())}
    assert states == {slow: None, bad: "FAILED"}
    assert code == 1


async def test_an_unknown_job_says_state_null_and_why(fake: FakeProvider) -> None:
    missing = "0190f3a2-1111-7222-8333-444455556666"
    code, out, _ = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--jsonl", missing,
    )  # fmt: skip
    assert code == 1
    line = json.loads(out)
    assert line["state"] is None
    assert line["error"]["http_status"] == 404


async def test_a_refused_api_key_says_state_null_and_why(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    code, out, _ = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "wrong-key", "--jsonl", job_id,
    )  # fmt: skip
    assert code == 1
    line = json.loads(out)
    assert line["state"] is None
    assert line["error"]["http_status"] == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wait", "--provider", "compress", "abc"], "FASTWAIT_API_KEY"),
        (["wait", "--provider", "nope", "abc"], "unknown provider 'nope' (known: compress,"),
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


@pytest.mark.parametrize(
    "secrets",
    [(SECRET,), ("whsec_bmV3LXNlY3JldC1hZnRlci1yb3RhdGlvbi0wMDA=", SECRET)],
    ids=["one-secret", "rotated-list"],
)
async def test_wait_listen_receives_webhooks_and_says_so(secrets: tuple[str, ...]) -> None:
    secret = SECRET  # what the sender signs with; the listener may know newer ones too
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = f"http://127.0.0.1:{port}/hooks/compress"
    async with FakeProvider(seed=7, durations=3.0, webhook_secret=secret) as fake:
        ids = [fake.create_job("compress", callback_url=hook) for _ in range(3)]
        # wait submits nothing, so it polls too; here only the webhooks can tell it the end.
        fake.faults.error_rate = 1.0
        code, out, err = await fastwait(
            "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
            "--api-key", "test-key", "--listen", f"127.0.0.1:{port}", "--jsonl", *ids,
            env={"FASTWAIT_WEBHOOK_SECRET": ",".join(secrets)},
        )  # fmt: skip
    assert code == 0, err
    assert f"receiving webhooks on http://127.0.0.1:{port}" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(ids)
    assert {line["source"] for line in lines} == {"webhook"}


async def test_wait_listen_without_a_secret_is_bad_usage() -> None:
    code, _, err = await fastwait(
        "wait", "--provider", "compress", "--api-key", "k", "--listen", "127.0.0.1:0", "abc",
        env={"FASTWAIT_WEBHOOK_SECRET": ""},
    )  # fmt: skip
    assert code == 2
    assert "--webhook-secret" in err


# --- downloads ----------------------------------------------------------------------------


async def test_download_folder_is_made_with_its_parents(fake: FakeProvider, tmp_path: Path) -> None:
    job_id = fake.create_job("media", file_name="clip.mp4", duration=0.1)
    dest = tmp_path / "out" / "clips"
    code, _, err = await fastwait(
        "wait", "--provider", "media", "--base-url", fake.base_url("media"),
        "--download", str(dest), job_id,
    )  # fmt: skip
    assert code == 0, err
    assert (dest / "clip.webm").stat().st_size > 0


async def test_a_download_folder_that_cannot_be_made_exits_2_before_any_poll(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("media", file_name="clip.mp4", duration=0.1)
    (tmp_path / "out").write_bytes(b"")
    code, _, err = await fastwait(
        "wait", "--provider", "media", "--base-url", fake.base_url("media"),
        "--download", str(tmp_path / "out" / "clips"), job_id,
    )  # fmt: skip
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert fake.job("media", job_id).requests == 0


async def test_outputs_of_the_same_name_are_all_kept(fake: FakeProvider, tmp_path: Path) -> None:
    ids = [fake.create_job("compress", duration=0.1) for _ in range(3)]
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--download", str(tmp_path), "--jsonl", *ids,
    )  # fmt: skip
    assert code == 0, err
    saved = [Path(path) for line in map(json.loads, out.splitlines()) for path in line["saved"]]
    assert len(set(saved)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in saved)
    assert (tmp_path / "photo-compressed.jpg").exists()


async def test_overwrite_replaces_a_file_of_the_same_name(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    (tmp_path / "photo-compressed.jpg").write_bytes(b"old")
    code, _, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--download", str(tmp_path), "--overwrite", job_id,
    )  # fmt: skip
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["photo-compressed.jpg"]
    assert (tmp_path / "photo-compressed.jpg").read_bytes() != b"old"


async def test_an_output_the_file_system_refuses_is_a_download_failed_line_not_a_crash(
    fake: FakeProvider, tmp_path: Path
) -> None:
    refused, saved = (fake.create_job("compress", duration=0.1) for _ in range(2))
    (tmp_path / "photo-compressed.jpg").mkdir()  # in the way of the first output it replaces
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--download", str(tmp_path), "--overwrite", "--jsonl",
        refused, saved,
    )  # fmt: skip
    assert code == 1, err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    assert all(line["error"]["code"] == "download_failed" for line in lines)
    assert all(line["state"] == "SUCCEEDED" for line in lines)


async def test_a_failed_download_is_a_failure_in_summary_and_exit_status(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compressorapp", duration=0.1)
    fake.corrupt_output("compressorapp", job_id)
    code, out, _ = await fastwait(
        "wait", "--provider", "compressorapp", "--base-url", fake.base_url("compressorapp"),
        "--api-key", "test-key", "--download", str(tmp_path), job_id,
    )  # fmt: skip
    assert code == 1
    assert "0/1 succeeded" in out
    assert "1 download failed" in out


async def test_a_failed_download_is_named_in_the_jsonl_line(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compressorapp", duration=0.1)
    fake.corrupt_output("compressorapp", job_id)
    code, out, _ = await fastwait(
        "wait", "--provider", "compressorapp", "--base-url", fake.base_url("compressorapp"),
        "--api-key", "test-key", "--download", str(tmp_path), "--jsonl", job_id,
    )  # fmt: skip
    assert code == 1
    line = json.loads(out)
    assert line["state"] == "SUCCEEDED"
    assert line["saved"] == []
    assert line["error"]["code"] == "download_failed"


# --- the basics -----------------------------------------------------------------------------


async def test_version_is_the_installed_distributions() -> None:
    code, out, _ = await fastwait("--version")
    assert code == 0
    assert out.strip() == f"fastwait {importlib.metadata.version('fastwait')}"


def test_the_package_has_a_version_from_its_metadata() -> None:
    assert fastwait_package.__version__ == importlib.metadata.version("fastwait")


@pytest.mark.parametrize("command", [(), ("wait",)])
async def test_help_lists_every_exit_status(command: tuple[str, ...]) -> None:
    code, out, _ = await fastwait(*command, "--help")
    assert code == 0
    listed = out.partition("exit status:")[2]
    codes = {value for name, value in vars(outcome).items() if name.startswith("EXIT_")}
    for status in codes:
        assert re.search(rf"(^|[\s;]){status} ", listed), f"{status} missing from:\n{listed}"


async def test_bare_fastwait_prints_usage_and_exits_2() -> None:
    code, _, err = await fastwait()
    assert code == 2
    assert err.startswith("usage: fastwait")
    for command in ("wait", "receive", "demo"):
        assert command in err


async def test_verbose_logs_each_job_end(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    args = ("--provider", "compress", "--base-url", fake.base_url("compress"), "--jsonl", job_id)
    env = {"FASTWAIT_API_KEY": "test-key"}
    _, _, quiet = await fastwait("wait", *args, env=env)
    code, _, verbose = await fastwait("wait", "-v", *args, env=env)
    assert code == 0
    assert job_id not in quiet
    assert f"compress job {job_id}: SUCCEEDED" in verbose


async def test_json_logs_carry_provider_job_and_event(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=2)
    code, _, err = await fastwait(
        "-vv", "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", "--log-format", "json", "--jsonl", job_id,
    )  # fmt: skip
    assert code == 0
    records = [json.loads(line) for line in err.splitlines()]
    events = {(r.get("event"), r.get("job_id"), r.get("provider")) for r in records}
    assert ("job_finished", job_id, "compress") in events
    assert ("status", job_id, "compress") in events
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


async def test_receive_logs_at_info_unless_quiet() -> None:
    loud = await _receive_until_up()
    quiet = await _receive_until_up("-q")
    assert "receiving on" in loud
    assert quiet == ""


async def _receive_until_up(*flags: str) -> str:
    """Start ``fastwait receive``, wait until it answers, stop it; its stderr."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "receive", "--provider", "compress",
        "--webhook-secret", SECRET, "--port", str(port), *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr
    return stderr.decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- one line, not a traceback --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"0190f3a2-1111\n\xff\xfe\n", "line 2: not UTF-8"),
        (b"good-id\n\nbad/id\n", "line 3: job id 'bad/id'"),
        (b"x" * 5_000_000, "line 1: longer than 1024 bytes"),
    ],
)
async def test_a_bad_ids_file_is_refused_with_its_line_number(
    tmp_path: Path, content: bytes, message: str
) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_bytes(content)
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--api-key", "k", "--ids-file", str(ids_file)
    )
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


async def test_a_malformed_job_id_argument_is_refused() -> None:
    code, _, err = await fastwait("wait", "--provider", "compress", "--api-key", "k", "a/b")
    assert code == 2
    assert "job id argument 1" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "port number"),
        (["--port", "-1"], "port number"),
        (["--host", "nohost.invalid", "--port", "0"], "cannot listen on nohost.invalid"),
        (["--redis", "garbage", "--port", "0"], "Redis"),
    ],
)
async def test_receive_refuses_bad_flags_in_one_line(flags: list[str], message: str) -> None:
    code, out, err = await fastwait(
        "receive", "--provider", "compress", "--webhook-secret", SECRET, *flags
    )
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


async def test_receive_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await fastwait(
            "receive", "--provider", "compress", "--webhook-secret", SECRET, "--port", str(port)
        )
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert len(err.strip().splitlines()) == 1


async def test_a_reader_that_leaves_early_ends_the_command_quietly(fake: FakeProvider) -> None:
    first = fake.create_job("compress", duration=0.1)
    rest = [fake.create_job("compress", duration=2.5) for _ in range(3)]
    line, code, stderr = await asyncio.to_thread(
        _first_line_then_leave, "wait", "--provider", "compress",
        "--base-url", fake.base_url("compress"), "--api-key", "test-key", "--jsonl", first, *rest,
    )  # fmt: skip
    assert json.loads(line)["id"] in {first, *rest}
    assert code == 141
    assert stderr == b""


def _first_line_then_leave(*args: str) -> tuple[bytes, int, bytes]:
    """``fastwait ARGS | head -1``: read one line of stdout, close it; (line, status, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fastwait", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    with process.stderr:
        line = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read()
    return line, process.wait(timeout=60), stderr
