"""100,000 tools.fast jobs awaited by one process, against the same tool awaiting 300.

Three processes, so that each figure describes the client alone: the fake, this driver, and a
fresh client process (:mod:`tests.benchmarks._scale_client`) per run, whose ``getrusage``
figures are the ones reported. The issue's workload: log-normal durations, median 8 s, sigma
0.4 (clipped to 0.2-20 s), 5 % failures, every job created at once. In one run:

1. **reference**: fastwait awaits 300 jobs; their detection lags (first status answer showing
   the end, minus the true end, from the fake's bookkeeping) are the yardstick;
2. **scale**: fastwait awaits 100,000 jobs: all must resolve, p95 lag within 1.5x (+0.2 s) of
   the reference's, peak RSS growth over the post-import baseline at most 2 KB per job; CPU per
   job and per status poll (client CPU while waiting / requests the fake counted);
3. **today** (with ``--baseline-source DIR``, a tree holding another fastwait, e.g.
   ``git archive fe6e460 | tar -x -C DIR``): the same 100,000 jobs awaited by that fastwait,
   whose CPU per poll is the baseline of the "at most half of today's" target;
4. **import**: what ``import fastwait`` costs in a fresh process (seconds, RSS) and which heavy
   modules it pulls in unasked (Redis, the receiver, the fake, SQLite, aiohttp.web).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from fastwait import PollPolicy

from ._harness import (
    API_KEY,
    FakeControl,
    JobRow,
    ScenarioReport,
    StrategyFigures,
    Target,
    fake_server,
    format_figures,
    format_targets,
    percentile,
    read_line,
    running_process,
    source_environment,
    source_tree,
)

__all__ = ["ScaleOptions", "run"]

_REPO = Path(__file__).resolve().parents[2]
_CLIENT = Path(__file__).with_name("_scale_client.py")
_MODEL = "lognormal:8,0.4,20"
_STARTUP_TIMEOUT = 30.0
_KIB_PER_JOB = 2.0
_LAG_FACTOR, _LAG_SLACK = 1.5, 0.2
_CPU_PER_POLL_FACTOR = 0.5


@attrs.frozen
class ScaleOptions:
    """``policy_overrides`` are PollPolicy keyword arguments passed on to the client process.

    ``baseline_source`` is a directory holding the fastwait package to compare against.
    """

    jobs: int = 100_000
    reference_jobs: int = 300
    max_connections: int = 32
    seed: int = 0
    model: str = _MODEL
    policy_overrides: dict[str, float] = attrs.field(factory=dict)
    baseline_source: str | None = None
    deadline: float = 900.0


@attrs.frozen
class _ClientRun:
    """One client process's own figures and the fake's rows of its jobs."""

    name: str
    figures: dict[str, Any]
    rows: list[JobRow]

    @property
    def requests(self) -> int:
        return sum(row.requests for row in self.rows)

    @property
    def jobs(self) -> int:
        return len(self.rows)

    @property
    def cpu_per_poll_us(self) -> float:
        return float(self.figures["wait_cpu_seconds"]) / max(self.requests, 1) * 1e6

    @property
    def cpu_per_job_us(self) -> float:
        return float(self.figures["wait_cpu_seconds"]) / max(self.jobs, 1) * 1e6

    @property
    def rss_growth_kib(self) -> float:
        return float(self.figures["peak_rss_kib"] - self.figures["baseline_rss_kib"])

    @property
    def lag_p95(self) -> float:
        return percentile([row.lag for row in self.rows], 0.95)

    def strategy(self) -> StrategyFigures:
        errors = sum(self.figures["errors"].values())
        return StrategyFigures.from_rows(self.name, self.rows, errors)


async def _client(argv: list[str], source: Path, deadline: float) -> dict[str, Any]:
    command = [sys.executable, str(_CLIENT), *argv]
    with running_process(command, cwd=_CLIENT.parent, env=source_environment(source)) as process:
        line = await asyncio.to_thread(read_line, process, deadline)
    figures: dict[str, Any] = json.loads(line)
    return figures


async def _await_jobs(
    name: str, url: str, jobs: int, source: Path, options: ScaleOptions
) -> _ClientRun:
    argv = [url, API_KEY, str(jobs), str(options.max_connections)]
    figures = await _client([*argv, json.dumps(options.policy_overrides)], source, options.deadline)
    ids = figures.pop("ids")
    async with aiohttp.ClientSession() as session:
        rows = await FakeControl(session, url).jobs("compress")
    return _ClientRun(name, figures, [rows[job_id] for job_id in ids])


def _mb(kib: float) -> float:
    return kib / 1024


def _describe(run: _ClientRun) -> str:
    f = run.figures
    states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(f["states"].items()))
    return (
        f"{run.name}: resolved {f['resolved']}/{f['jobs']} ({states}); errors {f['errors'] or 0}\n"
        f"  RSS {_mb(f['baseline_rss_kib']):.1f} MB after imports, peak"
        f" {_mb(f['peak_rss_kib']):.1f} MB: +{run.rss_growth_kib / max(run.jobs, 1):.2f} KB per"
        f" job\n  CPU {f['wait_cpu_seconds']:.2f} s while waiting over {f['wait_seconds']:.1f} s"
        f" wall: {run.cpu_per_job_us:.0f} us per job, {run.cpu_per_poll_us:.0f} us per status"
        f" poll ({run.requests / max(run.jobs, 1):.2f} polls per job)"
    )


def _import_line(name: str, figures: dict[str, Any]) -> str:
    heavy = ", ".join(figures["heavy_modules_imported"]) or "none"
    return (
        f"import fastwait ({name}): {figures['import_seconds'] * 1000:.0f} ms, RSS"
        f" {_mb(figures['rss_after_import_kib']):.1f} MB"
        f" (+{_mb(figures['rss_after_import_kib'] - figures['rss_before_import_kib']):.1f} MB);"
        f" heavy modules imported unasked: {heavy}"
    )


async def run(options: ScaleOptions) -> ScenarioReport:
    """Run the scale scenario once and judge it."""
    PollPolicy(**options.policy_overrides)  # refuse bad overrides before starting anything
    baseline = source_tree(options.baseline_source)
    imports = {"this tree": await _client(["--import-only"], _REPO, _STARTUP_TIMEOUT)}
    if baseline is not None:
        imports["today"] = await _client(["--import-only"], baseline, _STARTUP_TIMEOUT)
    with fake_server(options.seed, ("--durations", options.model)) as url:
        reference = await _await_jobs(
            f"{options.reference_jobs} jobs", url, options.reference_jobs, _REPO, options
        )
        scale = await _await_jobs(f"{options.jobs} jobs", url, options.jobs, _REPO, options)
        today = None
        if baseline is not None:
            today = await _await_jobs(f"{options.jobs} today", url, options.jobs, baseline, options)
    lag_limit = _LAG_FACTOR * reference.lag_p95 + _LAG_SLACK
    targets = [
        Target("jobs not resolved", options.jobs - scale.figures["resolved"], 0),
        Target(
            f"p95 lag of {options.jobs} jobs, s (1.5 x {reference.lag_p95:.2f} s + 0.2 s)",
            scale.lag_p95,
            lag_limit,
        ),
        Target(
            "peak RSS growth per job, KB", scale.rss_growth_kib / max(scale.jobs, 1), _KIB_PER_JOB
        ),
    ]
    if today is not None:
        targets.append(
            Target(
                "CPU per status poll / today's",
                scale.cpu_per_poll_us / today.cpu_per_poll_us,
                _CPU_PER_POLL_FACTOR,
            )
        )
    runs = [r for r in (reference, scale, today) if r is not None]
    text = "\n".join(
        [
            f"== scale: tools.fast jobs ({options.model}, 5 % failures, created at once) awaited"
            f" via as_completed, max_connections={options.max_connections} (seed"
            f" {options.seed}) ==",
            *(_describe(r) for r in runs),
            *(_import_line(name, figures) for name, figures in imports.items()),
            format_figures([r.strategy() for r in runs]),
            format_targets(targets),
        ]
    )
    return ScenarioReport(
        "scale",
        text,
        tuple(targets),
        {
            "jobs": options.jobs,
            "model": options.model,
            "max_connections": options.max_connections,
            "seed": options.seed,
            "imports": imports,
            "runs": {
                r.name: {
                    "client": r.figures,
                    "server": r.strategy().as_json(),
                    "cpu_per_poll_us": round(r.cpu_per_poll_us, 1),
                    "cpu_per_job_us": round(r.cpu_per_job_us, 1),
                    "rss_growth_kib_per_job": round(r.rss_growth_kib / max(r.jobs, 1), 3),
                    "lag_p95": r.lag_p95 if math.isfinite(r.lag_p95) else None,
                }
                for r in runs
            },
        },
    )
