"""The API reference builds from the docstrings with pdoc, every warning an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_public_api import PUBLIC_MODULES

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (*PUBLIC_MODULES, "fastwait.testing.pytest_plugin")


def test_the_api_reference_builds_without_a_warning(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-W", "error", "-m", "pdoc"),
            *("--docformat", "restructuredtext", "-o", str(tmp_path), *REFERENCE),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for module in REFERENCE:
        page = tmp_path.joinpath(*module.split(".")).with_suffix(".html")
        assert page.is_file(), module
