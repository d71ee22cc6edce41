"""10,000 tools.fast jobs awaited at once by one process: all resolved, peak RSS, CPU.

Three processes, so that each figure describes the client alone: the fake, this driver, and a
fresh client process (:mod:`tests.benchmarks._scale_client`) whose ``getrusage`` figures are
the ones reported. Jobs use the issue's durations (log-normal, median 3 s, sigma 0.8, clipped
to 0.2-20 s); requests per job and lags come from the fake as in the polling scenarios, for
context only (with 10,000 first polls due within a fraction of a second, a fake on a shared
two-core machine answers late).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from fastwait import PollPolicy

from ._harness import (
    FakeControl,
    ScenarioReport,
    StrategyFigures,
    Target,
    fake_server,
    format_figures,
    format_targets,
    read_line,
    running_process,
)

__all__ = ["ScaleOptions", "run"]

_REPO = Path(__file__).resolve().parents[2]
_RSS_LIMIT_MB = 300.0


@attrs.frozen
class ScaleOptions:
    """``policy_overrides`` are PollPolicy keyword arguments passed on to the client process."""

    jobs: int = 10_000
    max_connections: int = 32
    seed: int = 0
    policy_overrides: dict[str, float] = attrs.field(factory=dict)
    deadline: float = 180.0


def _mb(kib: float) -> float:
    return kib / 1024


async def _client_figures(url: str, options: ScaleOptions) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "tests.benchmarks._scale_client",
        url,
        str(options.jobs),
        str(options.max_connections),
        json.dumps(options.policy_overrides),
    ]
    with running_process(argv, cwd=_REPO) as client:
        line = await asyncio.to_thread(read_line, client, options.deadline)
    figures: dict[str, Any] = json.loads(line)
    return figures


async def run(options: ScaleOptions) -> ScenarioReport:
    """Run the scale scenario once and judge it."""
    PollPolicy(**options.policy_overrides)  # refuse bad overrides before starting anything
    with fake_server(options.seed) as url:
        figures = await _client_figures(url, options)
        async with aiohttp.ClientSession() as session:
            rows = list((await FakeControl(session, url).jobs("compress")).values())
    server = StrategyFigures.from_rows("fastwait", rows, sum(figures["errors"].values()))
    peak = _mb(figures["peak_rss_kib"])
    unresolved = options.jobs - figures["resolved"]
    targets = (
        Target("jobs not resolved", unresolved, 0),
        Target("fastwait jobs never seen terminal", server.never_terminal, 0),
        Target("peak RSS of the client process, MB", peak, _RSS_LIMIT_MB),
    )
    states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(figures["states"].items()))
    text = "\n".join(
        [
            f"== scale: {options.jobs} tools.fast jobs awaited at once via as_completed,"
            f" max_connections={options.max_connections}, log-normal median 3 s"
            f" (seed {options.seed}) ==",
            f"resolved {figures['resolved']}/{options.jobs} ({states});"
            f" errors {figures['errors'] or 0}",
            f"client RSS: {_mb(figures['baseline_rss_kib']):.1f} MB after imports,"
            f" peak {peak:.1f} MB (+{peak - _mb(figures['baseline_peak_rss_kib']):.1f} MB)",
            f"client CPU: {figures['wait_cpu_seconds']:.2f} s while waiting"
            f" ({figures['cpu_seconds']:.2f} s whole process) over"
            f" {figures['wait_seconds']:.1f} s wall",
            format_figures([server]),
            format_targets(targets),
        ]
    )
    return ScenarioReport(
        "scale",
        text,
        targets,
        {
            "jobs": options.jobs,
            "max_connections": options.max_connections,
            "seed": options.seed,
            "client": figures,
            "server": server.as_json(),
        },
    )
