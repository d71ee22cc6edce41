"""Requests per job and detection lag: fastwait's poller against hand-written loops.

Two scenarios, each on its own fake subprocess: tools.fast compress (progress reported) and
compressor.app without ``Retry-After`` (no progress). Each strategy gets its own batch of jobs,
and the batches are *paired*: job ``i`` of every batch has the same duration and fate. By
default the durations are the batch's quantiles of the fake's :class:`LogNormalDurations`
(shuffled) and exactly 5 % of the jobs fail, so the duration mix is the issue's distribution in
every run: a 300-job random sample moves the mean duration, hence the fixed poller's requests
and every ratio to it, by several per cent from run to run. All batches are created, then all
strategies run concurrently in one event loop, so the machine's noise (and the fake's load, a
few hundred requests per second) is shared by all of them.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import attrs

from fastwait import Client, PollPolicy
from fastwait.providers import CompressorApp, Provider, ToolsFastCompress
from fastwait.testing import LogNormalDurations

from ._baselines import (
    COMPRESS,
    COMPRESSORAPP,
    StatusApi,
    backoff_user,
    fixed_interval_user,
)
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
    ratio,
)

__all__ = ["PollingOptions", "run"]

FAILURE_RATE = 0.05
FASTWAIT = "fastwait"
FIXED = "fixed 1 s"
BACKOFF = "backoff expo"
_DURATION_BUCKETS = (1.0, 2.0, 4.0, 8.0, math.inf)

Strategy = Callable[[Sequence[str]], Awaitable[int]]
"""Waits for every job of a batch; returns how many ended in an error on the client's side."""


@attrs.frozen
class PollingOptions:
    """``jobs`` per strategy; ``deadline`` bounds each strategy's wait (seconds)."""

    jobs: int = 300
    seed: int = 0
    policy: PollPolicy = attrs.field(factory=PollPolicy)
    deadline: float = 150.0
    sequential: bool = False
    detail: bool = False
    random_durations: bool = False


def _plan(jobs: int, rng: random.Random, *, random_durations: bool) -> list[tuple[float, bool]]:
    """``(duration, fails)`` of each job: drawn at random, or stratified (see the docstring)."""
    shape = LogNormalDurations()
    if random_durations:
        return [(shape(rng), rng.random() < FAILURE_RATE) for _ in range(jobs)]
    normal = statistics.NormalDist(math.log(shape.median), shape.sigma)
    durations = [
        min(shape.high, max(shape.low, math.exp(normal.inv_cdf((i + 0.5) / jobs))))
        for i in range(jobs)
    ]
    rng.shuffle(durations)
    failing = set(rng.sample(range(jobs), round(FAILURE_RATE * jobs)))
    return [(duration, i in failing) for i, duration in enumerate(durations)]


def _fastwait(provider: Provider, policy: PollPolicy) -> Strategy:
    async def wait_all(ids: Sequence[str]) -> int:
        async with Client(provider, policy=policy) as client:
            return sum([result.error is not None async for result in client.as_completed(ids)])

    return wait_all


def _baseline(
    user: Callable[[Sequence[str], StatusApi, str, str], Awaitable[int]], api: StatusApi, url: str
) -> Strategy:
    async def wait_all(ids: Sequence[str]) -> int:
        return await user(ids, api, url, API_KEY)

    return wait_all


async def _bounded(strategy: Strategy, ids: Sequence[str], deadline: float) -> int:
    try:
        async with asyncio.timeout(deadline):
            return await strategy(ids)
    except TimeoutError:
        return len(ids)


async def _measure(
    url: str,
    provider: str,
    strategies: dict[str, Strategy],
    options: PollingOptions,
    rng: random.Random,
) -> tuple[dict[str, list[JobRow]], dict[str, int]]:
    """Create the paired batches, run the strategies; rows and errors by strategy.

    Job ``i`` of every batch comes from one request (``count`` = number of strategies), and the
    requests go out concurrently, so every batch is created within a fraction of a second: a
    job created long before its strategy starts polling would flatter the strategies that do
    not know its creation time.
    """
    plan = _plan(options.jobs, rng, random_durations=options.random_durations)
    batches: dict[str, list[str]] = {name: [] for name in strategies}
    errors: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        control = FakeControl(session, url)

        async def create(names: Sequence[str]) -> None:
            groups = await asyncio.gather(
                *(
                    control.create(provider, len(names), duration=duration, fail=fail)
                    for duration, fail in plan
                )
            )
            for ids in groups:
                for name, job_id in zip(names, ids, strict=True):
                    batches[name].append(job_id)

        if options.sequential:
            for name, strategy in strategies.items():
                await create([name])
                errors[name] = await _bounded(strategy, batches[name], options.deadline)
        else:
            await create(list(strategies))
            outcomes = await asyncio.gather(
                *(
                    _bounded(strategy, batches[name], options.deadline)
                    for name, strategy in strategies.items()
                )
            )
            errors = dict(zip(strategies, outcomes, strict=True))
        rows = await control.jobs(provider)
    return {name: [rows[i] for i in ids] for name, ids in batches.items()}, errors


def _creation_spread(rows: Sequence[JobRow]) -> float:
    return max(row.submitted_at for row in rows) - min(row.submitted_at for row in rows)


def _by_duration(rows_by_strategy: dict[str, list[JobRow]]) -> str:
    """Mean requests and p95 lag per duration bucket: where a strategy spends or loses."""
    lines = ["by job duration (mean requests / p95 lag):"]
    header = f"  {'duration':<10}" + "".join(f"{name:>22}" for name in rows_by_strategy)
    lines.append(header)
    low = 0.0
    for high in _DURATION_BUCKETS:
        cells = []
        for rows in rows_by_strategy.values():
            bucket = [row for row in rows if low <= row.duration < high]
            if not bucket:
                cells.append(f"{'-':>22}")
                continue
            mean = sum(row.requests for row in bucket) / len(bucket)
            p95 = percentile([row.lag for row in bucket], 0.95)
            cells.append(f"{f'{mean:.2f} / {p95:.2f}s (n={len(bucket)})':>22}")
        label = f"{low:g}-{high:g}s" if math.isfinite(high) else f">={low:g}s"
        lines.append(f"  {label:<10}" + "".join(cells))
        low = high
    return "\n".join(lines)


def _outliers(rows: list[JobRow], count: int = 5) -> str:
    worst = sorted(rows, key=lambda row: row.lag, reverse=True)[:count]
    return "fastwait's latest detections (duration, requests, lag): " + ", ".join(
        f"{row.duration:.1f}s/{row.requests}/{row.lag:.2f}s" for row in worst
    )


async def _scenario(
    name: str,
    title: str,
    provider: str,
    make: Callable[[str], dict[str, Strategy]],
    targets: Callable[[dict[str, StrategyFigures]], tuple[list[Target], list[str]]],
    options: PollingOptions,
    scenario_seed: int,
) -> ScenarioReport:
    with fake_server(scenario_seed) as url:
        rows, errors = await _measure(
            url, provider, make(url), options, random.Random(scenario_seed)
        )
    figures = {
        strategy: StrategyFigures.from_rows(strategy, batch, errors[strategy])
        for strategy, batch in rows.items()
    }
    checks, context = targets(figures)
    mode = "one after another" if options.sequential else "concurrently"
    sampling = "random" if options.random_durations else "stratified"
    lines = [
        f"== {title}: {options.jobs} paired jobs per strategy ({sampling} durations),"
        f" run {mode} (seed {scenario_seed}) ==",
    ]
    spread = max(_creation_spread(batch) for batch in rows.values())
    lines.append(f"each batch created within {spread:.3f}s (fake clock)")
    lines += [format_figures(list(figures.values())), *context, format_targets(checks)]
    if options.detail or not all(check.passed for check in checks):
        lines += [_by_duration(rows), _outliers(rows[FASTWAIT])]
    json_figures: dict[str, Any] = {
        "title": title,
        "provider": provider,
        "jobs_per_strategy": options.jobs,
        "seed": scenario_seed,
        "concurrent": not options.sequential,
        "random_durations": options.random_durations,
        "creation_spread": round(spread, 4),
        "strategies": [f.as_json() for f in figures.values()],
    }
    return ScenarioReport(name, "\n".join(lines), tuple(checks), json_figures)


def _never_missed(fastwait: StrategyFigures) -> Target:
    return Target("fastwait jobs never seen terminal", fastwait.never_terminal, 0)


def _progress_targets(
    figures: dict[str, StrategyFigures],
) -> tuple[list[Target], list[str]]:
    ours, fixed = figures[FASTWAIT], figures[FIXED]
    return [
        Target(
            "requests/job, fastwait / fixed 1 s",
            ratio(ours.requests_per_job, fixed.requests_per_job),
            0.40,
        ),
        Target("p95 lag, fastwait / fixed 1 s", ratio(ours.lag_p95, fixed.lag_p95), 1.0),
        _never_missed(ours),
    ], []


def _blind_targets(figures: dict[str, StrategyFigures]) -> tuple[list[Target], list[str]]:
    ours, user, fixed = figures[FASTWAIT], figures[BACKOFF], figures[FIXED]
    context = (
        f"context: fastwait / fixed 1 s: requests/job"
        f" {ratio(ours.requests_per_job, fixed.requests_per_job):.3f},"
        f" p95 lag {ratio(ours.lag_p95, fixed.lag_p95):.3f}"
    )
    return [
        Target(
            "requests/job, fastwait / backoff",
            ratio(ours.requests_per_job, user.requests_per_job),
            0.6,
        ),
        Target("p95 lag, fastwait / backoff", ratio(ours.lag_p95, user.lag_p95), 0.35),
        _never_missed(ours),
    ], [context]


async def run(options: PollingOptions) -> list[ScenarioReport]:
    """Both polling scenarios, one after the other (each with its own fake)."""

    def with_progress(url: str) -> dict[str, Strategy]:
        return {
            FASTWAIT: _fastwait(ToolsFastCompress(API_KEY, url), options.policy),
            FIXED: _baseline(fixed_interval_user, COMPRESS, url),
        }

    def without_progress(url: str) -> dict[str, Strategy]:
        return {
            FASTWAIT: _fastwait(CompressorApp(API_KEY, f"{url}/1.0"), options.policy),
            BACKOFF: _baseline(backoff_user, COMPRESSORAPP, url),
            FIXED: _baseline(fixed_interval_user, COMPRESSORAPP, url),
        }

    return [
        await _scenario(
            "progress",
            "with progress (tools.fast compress)",
            "compress",
            with_progress,
            _progress_targets,
            options,
            options.seed,
        ),
        await _scenario(
            "no_progress",
            "without progress (compressor.app, no Retry-After)",
            "compressorapp",
            without_progress,
            _blind_targets,
            options,
            options.seed + 1,
        ),
    ]
