"""Running a program's event loop: uvloop's when the ``speed`` extra is installed.

For programs only (the CLI, the standalone receiver): a library must not choose its caller's
event loop, so nothing else in fastwait calls this. ``FASTWAIT_NO_SPEEDUPS=1`` keeps asyncio's
loop even when uvloop is installed; uvloop is imported on first use, never by ``import
fastwait``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastwait._json import speedups_disabled

__all__ = ["loop_factory", "run"]

_T = TypeVar("_T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when installed and not disabled, else None (asyncio's)."""
    if speedups_disabled():
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)``, on uvloop when it may be used (same cancellation on Ctrl-C)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
