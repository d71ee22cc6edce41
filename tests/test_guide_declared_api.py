"""docs/guides/declared-api.md runs as written: its TOML is the spec the tests use.

Blocks run as tests/test_readme.py runs the README's: saved in a fresh folder holding a
``photo.jpg``, run with ``python`` (or ``pytest`` when they define ``test_`` functions), the
page's stand-ins replaced. The blocks marked ``<!-- run-by: tests/test_guide_declared_api.py -->``
talk to the reader's own API, so here they run against a fake playing the page's
``myapi.toml`` (written into the folder, its ``base_url`` pointed at the fake) with the token
in ``MYAPI_TOKEN``. The ``sh`` block's commands run too.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path

import pytest
from test_readme import SECRET, SHOWN_OUTPUT, free_port

from fastwait.cli._receive import _parser as receive_parser
from fastwait.providers import load_spec, microsoft_operation, spec_from_dict
from fastwait.testing import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "guides" / "declared-api.md").read_text()
RUN_BY = "<!-- run-by: tests/test_guide_declared_api.py -->"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
API_URL = "https://api.example.com"


def blocks(language: str, *, run_by: bool | None = None) -> list[str]:
    found = []
    for match in FENCE.finditer(GUIDE):
        marked = GUIDE[: match.start()].rstrip("\n").endswith(RUN_BY)
        if match[1] == language and (run_by is None or marked == run_by):
            found.append(match[2])
    return found


def toml_blocks() -> dict[str, str]:
    """Each ```toml block by the file name on its first line (``# myapi.toml``)."""
    named = {}
    for block in blocks("toml"):
        first = block.splitlines()[0]
        assert re.fullmatch(r"# \S+\.toml", first), first
        named[first[2:]] = block
    return named


def write_spec(folder: Path, fake: FakeProvider) -> Path:
    path = folder / "myapi.toml"
    path.write_text(toml_blocks()["myapi.toml"].replace(API_URL, fake.base_url("myapi")))
    return path


def test_the_page_has_its_blocks() -> None:
    assert set(toml_blocks()) == {"myapi.toml", "transcribe.toml"}
    assert len(blocks("python", run_by=True)) == 3
    assert len(blocks("python", run_by=False)) == 2
    assert GUIDE.count(RUN_BY) == 3


def test_the_python_form_declares_the_same_spec_as_the_toml(tmp_path: Path) -> None:
    path = tmp_path / "myapi.toml"
    path.write_text(toml_blocks()["myapi.toml"])
    (python_form,) = [block for block in blocks("python", run_by=False) if "ApiSpec(" in block]
    namespace: dict[str, object] = {}
    exec(compile(python_form, "declared-api.md", "exec"), namespace)
    assert namespace["spec"] == load_spec(path)


def test_the_preset_written_as_a_file_is_the_preset() -> None:
    data = tomllib.loads(toml_blocks()["transcribe.toml"])
    assert spec_from_dict(data) == microsoft_operation(
        "transcribe", "https://api.example.com", submit_path="/jobs"
    )


async def run(code: str, folder: Path, env: dict[str, str]) -> str:
    """Run a block as a user would, in ``folder``; its stdout (fails on a non-zero exit)."""
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a pretend jpeg")
    is_test = re.search(r"^(async )?def test_", code, re.MULTILINE) is not None
    script = folder / ("test_guide_block.py" if is_test else "guide_block.py")
    script.write_text(code)
    if is_test:
        command = [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-o", "asyncio_default_fixture_loop_scope=function", script.name),
        ]
    else:
        command = [sys.executable, script.name]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=folder,
        env={**environment, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (stdout + stderr).decode()
    for shown in SHOWN_OUTPUT.findall(code):
        assert shown in stdout.decode(), f"the guide says {shown!r}; it printed {stdout!r}"
    return stdout.decode()


@pytest.mark.parametrize("block", blocks("python", run_by=False), ids=["python-form", "presets"])
async def test_a_self_contained_block_runs(block: str, tmp_path: Path) -> None:
    await run(block, tmp_path, {})


@pytest.mark.parametrize(
    "block", blocks("python", run_by=True), ids=["await", "pytest-fixture", "webhooks"]
)
async def test_a_block_run_here_runs_against_the_fake_of_the_pages_spec(
    block: str, tmp_path: Path
) -> None:
    port = free_port()
    code = block.replace("whsec_...", SECRET)
    code = code.replace("https://svc.example.com", f"http://127.0.0.1:{port}")
    code = code.replace("8080", str(port))
    spec = _spec_file(tmp_path)  # the fake reads the page's spec; the client's copy names it
    async with FakeProvider(seed=1, durations=0.5, webhook_secret=SECRET, specs=[spec]) as fake:
        write_spec(tmp_path, fake)
        await run(code, tmp_path, {"MYAPI_TOKEN": "test-key"})


async def test_the_command_lines_run_as_shown(tmp_path: Path) -> None:
    (commands,) = blocks("sh")
    lines = [shlex.split(line, comments=True) for line in commands.splitlines()]
    wait, receive = (line for line in lines if line[:1] == ["fastwait"])
    async with FakeProvider(seed=1, durations=0.3, specs=[_spec_file(tmp_path)]) as fake:
        write_spec(tmp_path, fake)
        job_id = fake.create_job("myapi")
        argv = [job_id if arg.startswith("0195e2a0-") else arg for arg in wait[1:]]
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "fastwait", *argv, "--jsonl"),
            cwd=tmp_path,
            env={**os.environ, "MYAPI_TOKEN": "test-key"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    (line,) = map(json.loads, stdout.decode().splitlines())
    assert (line["id"], line["state"]) == (job_id, "SUCCEEDED")
    shown = [SECRET if arg == "whsec_..." else arg for arg in receive[2:]]
    parsed = receive_parser().parse_args(shown)
    assert (parsed.specs, parsed.port) == (["myapi.toml"], 8080)


def _spec_file(folder: Path) -> Path:
    path = folder / "spec-source.toml"
    path.write_text(toml_blocks()["myapi.toml"])
    return path
