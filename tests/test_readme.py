"""Every Python block of the README runs, as a user would run it, against the bundled fake.

Each block is saved to a file in a fresh folder holding a ``photo.jpg`` to upload, and run as
written: a script with ``python``, a block of ``test_`` functions with ``pytest`` (a project
of its own: strict asyncio mode, fastwait's plugin from its entry point). The one change is
the README's stated convention: the stand-ins for the reader's own settings in ``STAND_INS``
are replaced by the fake's and a free local port, so no block talks to a real host.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import sys
from pathlib import Path

import pytest

from fastwait.testing import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SECRET = "whsec_" + base64.b64encode(b"readme-blocks-webhook-secret-012").decode()
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
SHOWN_OUTPUT = re.compile(r"^\s*print\(.*\)  # (?!e\.g\.)(.+)$", re.MULTILINE)
"""``print(...)  # SUCCEEDED by webhook``: a comment showing output must be what is printed
(one that starts with "e.g." shows an example only)."""
HEADING = re.compile(r"^#+ (.*)$", re.MULTILINE)


def stand_ins(fake: FakeProvider, port: int) -> dict[str, str]:
    """What the README's placeholders become (the README says so under "Using it")."""
    return {
        "https://api.tools.fast": fake.url,
        "https://api.compressor.app/1.0": fake.base_url("compressorapp"),
        "fast_prod_...": "test-key",
        "whsec_...": SECRET,
        "https://svc.example.com": f"http://127.0.0.1:{port}",
        "8080": str(port),
    }


def readme_blocks() -> list[pytest.ParameterSet]:
    """Each ```python block, named after the heading above it (and its number there)."""
    blocks: list[pytest.ParameterSet] = []
    seen: dict[str, int] = {}
    for match in BLOCK.finditer(README):
        headings = HEADING.findall(README, 0, match.start())
        heading = re.sub(r"\W+", "-", headings[-1] if headings else "top").strip("-").lower()
        seen[heading] = seen.get(heading, 0) + 1
        blocks.append(pytest.param(match[1], id=f"{heading}-{seen[heading]}"))
    return blocks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_readme_has_python_blocks_to_run() -> None:
    assert len(readme_blocks()) >= 5


@pytest.mark.parametrize("block", readme_blocks())
async def test_the_readme_block_runs_against_the_fake(block: str, tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a pretend jpeg")
    async with FakeProvider(seed=1, durations=0.5, webhook_secret=SECRET) as fake:
        code = block
        for stand_in, value in stand_ins(fake, free_port()).items():
            code = code.replace(stand_in, value)
        is_test = re.search(r"^(async )?def test_", code, re.MULTILINE) is not None
        script = tmp_path / ("test_readme_block.py" if is_test else "readme_block.py")
        script.write_text(code)
        if is_test:
            command = [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
                *("-o", "asyncio_default_fixture_loop_scope=function", script.name),
            ]
        else:
            command = [sys.executable, script.name]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=tmp_path,
            env=env,
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
    for shown in SHOWN_OUTPUT.findall(block):
        assert shown in stdout.decode(), f"the README says {shown!r}; it printed {stdout!r}"
