"""``--provider-spec FILE.toml``: ``fastwait wait`` and ``fastwait receive`` take a declared API."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from conftest import ManualClock
from test_cli import SECRET, _free_port, fastwait
from test_declared_fake import SPEC

from fastwait.cli import main
from fastwait.testing import FakeProvider


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "myapi.toml"
    path.write_text(SPEC)
    return path


async def test_wait_takes_a_declared_spec_and_its_credential_from_the_named_variable(
    spec_file: Path,
) -> None:
    async with FakeProvider(seed=1, durations=0.2, specs=[spec_file]) as fake:
        ids = [fake.create_job("myapi"), fake.create_job("myapi", fail=True)]
        code, out, err = await fastwait(
            "wait", "--provider-spec", str(spec_file), "--base-url", fake.base_url("myapi"),
            "--jsonl", *ids, env={"MYAPI_TOKEN": "test-key", "FASTWAIT_API_KEY": "wrong"},
        )  # fmt: skip
    assert code == 1, err
    lines = {line["id"]: line for line in map(json.loads, out.splitlines())}
    assert [lines[job_id]["state"] for job_id in ids] == ["SUCCEEDED", "FAILED"]
    assert {line["provider"] for line in lines.values()} == {"myapi"}
    assert lines[ids[1]]["error"]["code"] == "fake.failed"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace('state = "status"', 'state = "status["'), "status.state: not a valid"),
        (lambda s: s.replace('failed = "error"', 'failed = "done"'), "'done' is already"),
        (lambda s: s.replace("[status]", "[status]\nstat = 1"), "status: unknown key stat"),
        (lambda s: s.replace('name = "myapi"', "name = 'myapi"), "myapi.toml: is not TOML"),
    ],
    ids=["jmespath", "state-map", "unknown-key", "not-toml"],
)
@pytest.mark.parametrize("command", ["wait", "receive"])
def test_a_broken_spec_is_refused_in_one_line_naming_the_field(
    spec_file: Path, edit: object, message: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(edit)
    spec_file.write_text(edit(SPEC))
    args = ["--webhook-secret", SECRET] if command == "receive" else ["job-1"]
    try:
        code: int | str | None = main([command, "--provider-spec", str(spec_file), *args])
    except SystemExit as exited:  # receive refuses with argparse's parser.error()
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


async def test_a_missing_credential_names_the_variable(spec_file: Path) -> None:
    code, _, err = await fastwait(
        "wait", "--provider-spec", str(spec_file), "job-1", env={"MYAPI_TOKEN": ""}
    )
    assert code == 2
    assert "MYAPI_TOKEN" in err
    assert len(err.strip().splitlines()) == 1


async def test_provider_and_provider_spec_exclude_each_other(spec_file: Path) -> None:
    code, _, err = await fastwait(
        "wait", "--provider", "compress", "--provider-spec", str(spec_file), "job-1"
    )
    assert code == 2
    assert "not allowed with" in err


async def test_receive_takes_a_declared_spec_and_accepts_its_signed_webhooks(
    spec_file: Path,
) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "receive", "--provider-spec", str(spec_file),
        "--webhook-secret", SECRET, "--port", str(port),
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
                    await asyncio.sleep(0.05)  # polling a process's startup: no event to await
        hook = f"http://127.0.0.1:{port}/hooks/myapi"
        clock = ManualClock()
        async with FakeProvider(
            seed=1, durations=1.0, specs=[spec_file], webhook_secret=SECRET, clock=clock
        ) as fake:
            job_id = fake.create_job("myapi", callback_url=hook)
            clock.advance(2.0)
            await fake.flush_webhooks()
            deliveries = fake.webhook_deliveries
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert [d.result for d in deliveries] == [200], stderr.decode()
    assert job_id in stderr.decode()


async def test_wait_listen_receives_a_declared_apis_webhooks(spec_file: Path) -> None:
    port = _free_port()
    hook = f"http://127.0.0.1:{port}/hooks/myapi"
    async with FakeProvider(
        seed=7, durations=3.0, specs=[spec_file], webhook_secret=SECRET
    ) as fake:
        ids = [fake.create_job("myapi", callback_url=hook) for _ in range(2)]
        fake.faults.error_rate = 1.0  # only the webhooks can tell the end
        code, out, err = await fastwait(
            "wait", "--provider-spec", str(spec_file), "--base-url", fake.base_url("myapi"),
            "--listen", f"127.0.0.1:{port}", "--jsonl", *ids,
            env={"MYAPI_TOKEN": "test-key", "FASTWAIT_WEBHOOK_SECRET": SECRET},
        )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(ids)
    assert {line["source"] for line in lines} == {"webhook"}
