"""Programs (the CLI, the receiver service) run on uvloop with the speed extra; asyncio without."""

from __future__ import annotations

import os
import subprocess
import sys

_CODE = """
import asyncio
from fastwait._event_loop import run

async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__

print(run(loop_module()))
"""


def _loop_module(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "FASTWAIT_NO_SPEEDUPS"}
    result = subprocess.run(
        [sys.executable, "-c", _CODE],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, **env},
        timeout=60,
    )
    return result.stdout.strip()


def test_a_program_runs_on_uvloop_when_it_is_installed() -> None:
    assert _loop_module().startswith("uvloop")


def test_no_speedups_keeps_asyncios_loop() -> None:
    assert _loop_module(FASTWAIT_NO_SPEEDUPS="1").startswith("asyncio")
