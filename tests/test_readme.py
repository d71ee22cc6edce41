"""Every Python block of the README and of the documentation site runs, as a user would run it,
against the bundled fake.

The pages are README.md and every ``docs/**/*.md``. Each ```python block is saved to a file in a
fresh folder holding a ``photo.jpg`` to upload, and run as written: a script with ``python``, a
block of ``test_`` functions with ``pytest`` (a project of its own: strict asyncio mode,
fastwait's plugin from its entry point). The one change is the pages' stated convention: the
stand-ins for the reader's own settings in ``STAND_INS`` are replaced by the fake's and a free
local port, so no block talks to a real host.

A block that cannot run so (a server that runs until stopped, a framework recipe) is preceded by
the line ``<!-- run-by: tests/test_NAME.py -->``: that test file reads the block out of the page
and runs it itself, so here it is only checked that the file exists and names the page.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from redis_support import REDIS_URL, require_redis

from fastwait.testing import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")))
SECRET = "whsec_" + base64.b64encode(b"readme-blocks-webhook-secret-012").decode()
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
INDENTED_BLOCK = re.compile(r"^[ \t]+```python", re.MULTILINE)
RUN_BY = re.compile(r"^<!-- run-by: (tests/test_\w+\.py) -->\n\Z")
"""The line right before a block run by a test of its own (the marker ends that line)."""
SHOWN_OUTPUT = re.compile(r"^\s*print\(.*\)  # (?!e\.g\.)(.+)$", re.MULTILINE)
"""``print(...)  # SUCCEEDED by webhook``: a comment showing output must be what is printed
(one that starts with "e.g." shows an example only)."""
HEADING = re.compile(r"^#+ (.*)$", re.MULTILINE)


PAGE_REDIS = "redis://127.0.0.1:6379/0"
"""The Redis URL the pages show; a block that uses it is a Redis test."""


def stand_ins(fake: FakeProvider, port: int) -> dict[str, str]:
    """What the pages' placeholders become (docs/contributing.md says so)."""
    return {
        "https://api.tools.fast": fake.url,
        "https://api.compressor.app/1.0": fake.base_url("compressorapp"),
        "fast_prod_...": "test-key",
        "whsec_...": SECRET,
        "https://svc.example.com": f"http://127.0.0.1:{port}",
        "8080": str(port),
        PAGE_REDIS: REDIS_URL,  # the test server and database (FASTWAIT_TEST_REDIS_URL)
    }


def page_name(page: Path) -> str:
    """The page's path from the repository's root, as a run-by test names it."""
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


def blocks(page: Path) -> list[tuple[str, str, str | None]]:
    """Each ```python block of a page: its id (the page and the heading above it, numbered),
    its code, and the test file that runs it instead, if a run-by line precedes it."""
    text = page.read_text()
    found: list[tuple[str, str, str | None]] = []
    seen: dict[str, int] = {}
    for match in BLOCK.finditer(text):
        headings = HEADING.findall(text, 0, match.start())
        heading = re.sub(r"\W+", "-", headings[-1] if headings else "top").strip("-").lower()
        seen[heading] = seen.get(heading, 0) + 1
        before = text[: match.start()]
        run_by = RUN_BY.search(before[before.rfind("\n", 0, len(before) - 1) + 1 :])
        name = f"{page_name(page)}:{heading}-{seen[heading]}"
        found.append((name, match[1], run_by[1] if run_by else None))
    return found


def blocks_to_run() -> list[pytest.ParameterSet]:
    return [
        pytest.param(code, id=name, marks=[pytest.mark.redis] if PAGE_REDIS in code else [])
        for page in PAGES
        for name, code, run_by in blocks(page)
        if run_by is None
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_readme_has_python_blocks_to_run() -> None:
    assert len(blocks(ROOT / "README.md")) >= 2
    assert len(blocks_to_run()) >= 10


def test_no_python_block_is_indented_out_of_the_harness_reach() -> None:
    # An indented fence (in a list, an admonition) would be skipped silently: write it flush.
    indented = [page_name(page) for page in PAGES if INDENTED_BLOCK.search(page.read_text())]
    assert indented == []


def test_a_run_by_line_right_above_a_block_hands_it_to_that_test(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Serve\n\n<!-- run-by: tests/test_serving.py -->\n```python\nserve()\n```\n\n"
        "<!-- run-by: tests/test_serving.py -->\n\n```python\nrun()\n```\n"
    )
    found = [(code, run_by) for _, code, run_by in blocks(page)]
    # Only the line right above the fence counts: a blank line between hands nothing over.
    assert found == [("serve()\n", "tests/test_serving.py"), ("run()\n", None)]


def test_every_block_run_by_a_test_of_its_own_names_a_test_that_reads_its_page() -> None:
    wrong = []
    for page in PAGES:
        for name, _, run_by in blocks(page):
            if run_by is None:
                continue
            test = ROOT / run_by
            if not test.is_file():
                wrong.append(f"{name}: {run_by} does not exist")
            elif page_name(page) not in test.read_text():
                wrong.append(f"{name}: {run_by} never names {page_name(page)}")
    assert wrong == []


async def run_block(
    code: str, folder: Path, env: Mapping[str, str] | None = None, *, shown_in: str | None = None
) -> str:
    """Run a page's block as a user would, in ``folder`` beside a ``photo.jpg``: a script with
    ``python``, a block of ``test_`` functions with ``pytest`` (a project of its own). Fails
    on a non-zero exit, or when an output the page shows (in ``shown_in``, default ``code``)
    was not printed; returns what it printed."""
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a pretend jpeg")
    is_test = re.search(r"^(async )?def test_", code, re.MULTILINE) is not None
    script = folder / ("test_page_block.py" if is_test else "page_block.py")
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
        env={**environment, **(env or {})},
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
    printed = stdout.decode()
    for shown in SHOWN_OUTPUT.findall(code if shown_in is None else shown_in):
        assert shown in printed, f"the page says {shown!r}; it printed {printed!r}"
    return printed


@pytest.mark.parametrize("block", blocks_to_run())
async def test_the_block_runs_against_the_fake(block: str, tmp_path: Path) -> None:
    if PAGE_REDIS in block:
        require_redis()  # the page's Redis becomes the test server's
    async with FakeProvider(seed=1, durations=0.5, webhook_secret=SECRET) as fake:
        code = block
        for stand_in, value in stand_ins(fake, free_port()).items():
            code = code.replace(stand_in, value)
        await run_block(code, tmp_path, shown_in=block)
