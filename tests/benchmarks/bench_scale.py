"""Many tools.fast jobs awaited by one process: CPU per poll, peak polls/s, memory, lag.

Three processes, so that each figure describes the client alone: the fake, this driver, and a
fresh client process (:mod:`tests.benchmarks._scale_client`) per run, whose ``getrusage``
figures are the ones reported. Each client runs in up to four variants: **today** (with
``--baseline-source DIR``, another fastwait tree, e.g. ``git archive 2c69e46 | tar -x -C DIR``;
asyncio's loop), **plain** (this tree, ``FASTWAIT_NO_SPEEDUPS=1``: the standard library's JSON,
asyncio's loop; what a user without the ``speed`` extra gets), **speed** (this tree with the
extra: orjson, and the client on uvloop as a service with the extra runs) and **cli** (speed,
plus the garbage collector's threshold the ``fastwait`` command sets for its own process; a
library does not touch it). Each round runs every variant in a rotated order against a fresh
fake, and ratios are taken within a round (the machine is shared and noisy), their median
reported:

1. **CPU**: 100,000 jobs (log-normal durations, median 8 s, sigma 0.4, clipped to 0.2-20 s,
   5 % failures, all created at once) awaited via ``as_completed``: all must resolve; CPU per
   status poll (client CPU while waiting / requests the fake counted) at most 0.75x today's;
   peak RSS growth over the post-import baseline at most 2 KB per job;
2. **peak**: 2,000 jobs that never end, polled every 10 ms (far more than one core can), the
   client pinned to one CPU, against :mod:`~tests.benchmarks._status_server` on the other (the
   fake costs more per request than the client): polls per second of the client's CPU (the
   shared core is not the client's alone; wall polls/s are printed too), at least 1.3x today's;
3. **lag** (once): 30,000 jobs (median 8 s, sigma 0.4, up to 25 s), whose p95 detection lag
   (first status answer showing the end minus the true end, from the fake's bookkeeping) must
   be within 1.5x (+0.2 s) of the same variant awaiting 300 such jobs in the same run;
4. **import**: what ``import fastwait`` costs in a fresh process (seconds, RSS) and which heavy
   modules it pulls in unasked (Redis, the receiver, the fake, SQLite, aiohttp.web, orjson,
   uvloop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import sys
from collections.abc import Iterator, Mapping, Sequence
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
_STATUS_SERVER = Path(__file__).with_name("_status_server.py")
_MODEL = "lognormal:8,0.4,20"
_LAG_MODEL = "lognormal:8,0.4,25"
_STARTUP_TIMEOUT = 30.0
_KIB_PER_JOB = 2.0
_LAG_FACTOR, _LAG_SLACK = 1.5, 0.2
_CPU_PER_POLL_FACTOR = 0.75
_PEAK_FACTOR = 1.3


@attrs.frozen
class _Variant:
    """One way of running the client: which fastwait tree, with what environment."""

    name: str
    source: Path
    environment: Mapping[str, str]


_PLAIN = {"FASTWAIT_NO_SPEEDUPS": "1"}
_SPEED = {"FASTWAIT_BENCH_LOOP": "uvloop"}
_CLI = {**_SPEED, "FASTWAIT_BENCH_GC": "cli"}


@attrs.frozen
class ScaleOptions:
    """``policy_overrides`` are PollPolicy keyword arguments passed on to the client process.

    ``baseline_source`` is a directory holding the fastwait package to compare against.
    """

    jobs: int = 100_000
    reference_jobs: int = 300
    lag_jobs: int = 30_000
    max_connections: int = 32
    seed: int = 0
    model: str = _MODEL
    lag_model: str = _LAG_MODEL
    policy_overrides: dict[str, float] = attrs.field(factory=dict)
    baseline_source: str | None = None
    rounds: int = 3
    peak_jobs: int = 2000
    peak_seconds: float = 10.0
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


async def _client(
    argv: list[str], source: Path, deadline: float, environment: Mapping[str, str] = _PLAIN
) -> dict[str, Any]:
    command = [sys.executable, str(_CLIENT), *argv]
    env = {**source_environment(source), **environment}
    with running_process(command, cwd=_CLIENT.parent, env=env) as process:
        line = await asyncio.to_thread(read_line, process, deadline)
    figures: dict[str, Any] = json.loads(line)
    return figures


async def _await_jobs(
    name: str, url: str, jobs: int, variant: _Variant, options: ScaleOptions
) -> _ClientRun:
    argv = [url, API_KEY, str(jobs), str(options.max_connections)]
    argv.append(json.dumps(options.policy_overrides))
    figures = await _client(argv, variant.source, options.deadline, variant.environment)
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


async def _peak(url: str, variant: _Variant, options: ScaleOptions) -> dict[str, Any]:
    argv = ["--saturate", url, API_KEY, str(options.peak_jobs), str(options.max_connections)]
    argv.append(str(options.peak_seconds))
    return await _client(argv, variant.source, options.deadline, variant.environment)


@contextlib.contextmanager
def _status_server() -> Iterator[str]:
    command = [sys.executable, str(_STATUS_SERVER)]
    with running_process(command, cwd=_STATUS_SERVER.parent) as process:
        yield read_line(process, _STARTUP_TIMEOUT)


def _rotated(variants: Sequence[_Variant], round_: int) -> list[_Variant]:
    shift = round_ % len(variants)
    return [*variants[shift:], *variants[:shift]]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


@attrs.frozen
class _Rounds:
    """Every round's runs, by variant name."""

    cpu: dict[str, list[_ClientRun]]
    peak: dict[str, list[dict[str, Any]]]

    def cpu_ratios(self, name: str, baseline: str) -> list[float]:
        pairs = zip(self.cpu[name], self.cpu[baseline], strict=True)
        return [run.cpu_per_poll_us / base.cpu_per_poll_us for run, base in pairs]

    def peak_ratios(self, name: str, baseline: str) -> list[float]:
        pairs = zip(self.peak[name], self.peak[baseline], strict=True)
        return [run["polls_per_cpu_second"] / base["polls_per_cpu_second"] for run, base in pairs]


async def _rounds(variants: Sequence[_Variant], options: ScaleOptions) -> _Rounds:
    cpu: dict[str, list[_ClientRun]] = {v.name: [] for v in variants}
    peak: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    for round_ in range(options.rounds):
        for variant in _rotated(variants, round_):
            with fake_server(options.seed + round_, ("--durations", options.model)) as url:
                cpu[variant.name].append(
                    await _await_jobs(variant.name, url, options.jobs, variant, options)
                )
            print(f"  round {round_ + 1}: {_describe(cpu[variant.name][-1])}", flush=True)
        for variant in _rotated(variants, round_ + 1):
            with _status_server() as url:
                peak[variant.name].append(await _peak(url, variant, options))
            figures = peak[variant.name][-1]
            print(
                f"  round {round_ + 1}: peak {variant.name}: {figures['polls_per_second']:.0f}"
                f" polls/s using {figures['cpu_seconds'] / figures['seconds']:.2f} of a core:"
                f" {figures['polls_per_cpu_second']:.0f} polls per CPU second",
                flush=True,
            )
    return _Rounds(cpu, peak)


async def _lag(variant: _Variant, options: ScaleOptions) -> tuple[_ClientRun, _ClientRun]:
    """(reference, many): the same variant awaiting few and many jobs of the lag model."""
    with fake_server(options.seed, ("--durations", options.lag_model)) as url:
        few = await _await_jobs(
            f"{variant.name} {options.reference_jobs}",
            url,
            options.reference_jobs,
            variant,
            options,
        )
        many = await _await_jobs(
            f"{variant.name} {options.lag_jobs}", url, options.lag_jobs, variant, options
        )
    print(f"  lag: {_describe(few)}\n  lag: {_describe(many)}", flush=True)
    return few, many


def _cpu_line(rounds: _Rounds, name: str) -> str:
    runs = rounds.cpu[name]
    peaks = [float(p["polls_per_cpu_second"]) for p in rounds.peak[name]]
    return (
        f"{name:<7} CPU per poll {_median([r.cpu_per_poll_us for r in runs]):6.1f} us"
        f" (rounds: {', '.join(f'{r.cpu_per_poll_us:.1f}' for r in runs)}), per job"
        f" {_median([r.cpu_per_job_us for r in runs]):6.1f} us,"
        f" {_median([r.requests / max(r.jobs, 1) for r in runs]):.2f} polls per job, RSS +"
        f"{_median([r.rss_growth_kib / max(r.jobs, 1) for r in runs]):.2f} KB per job;"
        f" peak {_median(peaks):6.0f} polls per CPU second (rounds:"
        f" {', '.join(f'{p:.0f}' for p in peaks)})"
    )


async def run(options: ScaleOptions) -> ScenarioReport:
    """Run the scale scenario and judge it."""
    PollPolicy(**options.policy_overrides)  # refuse bad overrides before starting anything
    baseline = source_tree(options.baseline_source)
    variants = [
        _Variant("plain", _REPO, _PLAIN),
        _Variant("speed", _REPO, _SPEED),
        _Variant("cli", _REPO, _CLI),
    ]
    if baseline is not None:
        variants.insert(0, _Variant("today", baseline, _PLAIN))
    imports = {
        v.name: await _client(["--import-only"], v.source, _STARTUP_TIMEOUT) for v in variants
    }
    rounds = await _rounds(variants, options)
    lags = {v.name: await _lag(v, options) for v in variants}
    targets: list[Target] = []
    for name in ("plain", "speed", "cli"):
        unresolved = max(options.jobs - r.figures["resolved"] for r in rounds.cpu[name])
        few, many = lags[name]
        limit = _LAG_FACTOR * few.lag_p95 + _LAG_SLACK
        targets += [
            Target(f"{name}: jobs not resolved (worst round)", unresolved, 0),
            Target(
                f"{name}: p95 lag of {options.lag_jobs} jobs, s (1.5 x {few.lag_p95:.2f} s"
                " + 0.2 s)",
                many.lag_p95,
                limit,
            ),
            Target(
                f"{name}: peak RSS growth per job, KB (worst round)",
                max(r.rss_growth_kib / max(r.jobs, 1) for r in rounds.cpu[name]),
                _KIB_PER_JOB,
            ),
        ]
        if baseline is not None:
            targets += [
                Target(
                    f"{name}: CPU per status poll / today's (median of rounds:"
                    f" {', '.join(f'{x:.3f}' for x in rounds.cpu_ratios(name, 'today'))})",
                    _median(rounds.cpu_ratios(name, "today")),
                    _CPU_PER_POLL_FACTOR,
                ),
                Target(
                    f"{name}: today's peak polls per CPU s / this one's: 1 / (>= 1.3x) (rounds:"
                    f" {', '.join(f'{x:.3f}' for x in rounds.peak_ratios(name, 'today'))} x)",
                    1 / _median(rounds.peak_ratios(name, "today")),
                    1 / _PEAK_FACTOR,
                ),
            ]
    text = "\n".join(
        [
            f"== scale: tools.fast jobs ({options.model}, 5 % failures, created at once) awaited"
            f" via as_completed, max_connections={options.max_connections}, {options.rounds}"
            f" rounds (seed {options.seed}) ==",
            *(_cpu_line(rounds, v.name) for v in variants),
            *(_import_line(name, figures) for name, figures in imports.items()),
            f"lag ({options.lag_model}):",
            format_figures([run.strategy() for pair in lags.values() for run in pair]),
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
            "lag_model": options.lag_model,
            "max_connections": options.max_connections,
            "seed": options.seed,
            "imports": imports,
            "rounds": {
                name: [
                    {
                        "client": {k: v for k, v in r.figures.items() if k != "ids"},
                        "cpu_per_poll_us": round(r.cpu_per_poll_us, 1),
                        "cpu_per_job_us": round(r.cpu_per_job_us, 1),
                        "rss_growth_kib_per_job": round(r.rss_growth_kib / max(r.jobs, 1), 3),
                        "peak": rounds.peak[name][i],
                    }
                    for i, r in enumerate(runs)
                ]
                for name, runs in rounds.cpu.items()
            },
            "lag": {
                name: {
                    run.name: {
                        "server": run.strategy().as_json(),
                        "lag_p95": run.lag_p95 if math.isfinite(run.lag_p95) else None,
                    }
                    for run in pair
                }
                for name, pair in lags.items()
            },
        },
    )
