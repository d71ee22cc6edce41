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


def test_the_architecture_names_every_module_in_its_package() -> None:
    # Each package has a paragraph opening with **`fastwait/NAME/`**; the rest, "Top-level".
    text = (ROOT / "docs" / "architecture.md").read_text()
    paragraphs = text.split("\n\n")
    package = ROOT / "fastwait"
    unnamed = []
    for module in sorted(package.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        folder = module.parent.relative_to(ROOT).as_posix()
        opening = f"**`{folder}/`**" if folder != "fastwait" else "Top-level modules:"
        where = [p for p in paragraphs if p.startswith(opening)]
        if not any(f"`{module.name}`" in paragraph for paragraph in where):
            unnamed.append(module.relative_to(ROOT).as_posix())
    assert unnamed == []
