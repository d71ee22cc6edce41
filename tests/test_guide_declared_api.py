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
from test_readme import SECRET, free_port, run_block

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


@pytest.mark.parametrize("block", blocks("python", run_by=False), ids=["python-form", "presets"])
async def test_a_self_contained_block_runs(block: str, tmp_path: Path) -> None:
    await run_block(block, tmp_path)


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
        await run_block(code, tmp_path, {"MYAPI_TOKEN": "test-key"})


async def test_the_command_lines_run_as_shown(tmp_path: Path) -> None:
    (commands,) = (block for block in blocks("sh") if block.startswith("export MYAPI_TOKEN"))
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
