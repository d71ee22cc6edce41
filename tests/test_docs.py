"""The documentation site builds with MkDocs, every warning an error, and names every module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastwait import ConfigurationError, StandardWebhookVerifier

ROOT = Path(__file__).resolve().parent.parent


def test_the_site_builds_without_a_warning(tmp_path: Path) -> None:
    # --strict: a broken link, a missing page or a reference that resolves nowhere fails.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").is_file()
    reference = {page.parent.name: page.read_text() for page in tmp_path.glob("reference/*/*.html")}
    assert "fastwait.Client" in reference["client"]
    # The docstrings' reST reads as Markdown: no role left raw, the receiver's table a table.
    raw_roles = [name for name, html in reference.items() if re.search(r":(class|meth):`", html)]
    assert raw_roles == []
    receiver = reference["receiver"]
    assert "<table>" in receiver[receiver.index("What a delivery is answered") :]


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


def test_every_test_the_guarantees_page_names_exists() -> None:
    text = (ROOT / "docs" / "guarantees.md").read_text()
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", text)
    assert len(named) >= 20
    missing = [
        f"{file}::{test}"
        for file, test in named
        if not re.search(rf"^(async )?def {test}\(", (ROOT / "tests" / file).read_text(), re.M)
    ]
    assert missing == []


def test_the_pasteable_secret_command_makes_a_secret_fastwait_accepts() -> None:
    # The pages tell readers to paste this line rather than the stand-in `whsec_...`, which
    # fastwait refuses as not base64.
    pages = [ROOT / "README.md", ROOT / "receiver" / "README.md", *(ROOT / "docs").rglob("*.md")]
    commands = {
        match
        for page in pages
        for match in re.findall(
            r"FASTWAIT_WEBHOOK_SECRET=\$\(python -c '([^']+)'\)", page.read_text()
        )
    }
    assert commands
    for command in commands:
        made = subprocess.run(
            [sys.executable, "-c", command], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
        StandardWebhookVerifier([made])  # raises for anything but a valid secret
    with pytest.raises(ConfigurationError, match="base64"):
        StandardWebhookVerifier(["whsec_..."])
