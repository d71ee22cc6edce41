"""What every benchmark shares: the fake in a subprocess, its control routes, figures, targets.

The fake runs in its own process so that the client's CPU and memory are measured alone, and
every strategy is judged by the fake's own bookkeeping (requests naming a job, and when a status
answer first showed it terminal), never by what the strategy reports about itself.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs

__all__ = [
    "API_KEY",
    "FAKE_FLAGS",
    "FakeControl",
    "JobRow",
    "ScenarioReport",
    "StrategyFigures",
    "Target",
    "delete_keys",
    "fake_server",
    "format_figures",
    "format_targets",
    "percentile",
    "ratio",
    "read_line",
    "running_process",
    "source_environment",
    "source_tree",
]

API_KEY = "bench-key"
FAKE_FLAGS: tuple[str, ...] = (
    "--durations",
    "lognormal",  # LogNormalDurations(): median 3 s, sigma 0.8, clipped to [0.2, 20] s
    "--failure-rate",
    "0.05",
    "--progress-noise",
    "5",
    "--api-key",
    API_KEY,
)
"""The issue's workload; compressor.app sends no Retry-After unless asked (it is not)."""

_STARTUP_TIMEOUT = 30.0
_REPO = Path(__file__).resolve().parents[2]


async def delete_keys(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` in the Redis at ``url`` (what a run wrote there)."""
    import redis.asyncio  # the Redis scenarios only: the others run without the package

    admin = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in admin.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await admin.delete(*keys[start : start + 1000])
    finally:
        await admin.aclose()


def source_tree(baseline_source: str | None) -> Path | None:
    """The fastwait tree to measure alongside this one (``--baseline-source``), checked."""
    if baseline_source is None:
        return None
    tree = Path(baseline_source).resolve()
    if not (tree / "fastwait" / "__init__.py").is_file():
        raise RuntimeError(f"{tree} holds no fastwait package to compare against")
    return tree


def source_environment(tree: Path | None) -> dict[str, str]:
    """The environment of a benchmark process (run as a script, not with ``-m``) that imports
    fastwait from ``tree``, this repository by default."""
    path = [str(tree or _REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def running_process(
    argv: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """Run ``argv`` with stdout piped; it is terminated (then killed) however the block ends."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
    try:
        yield process
    finally:
        _stop(process)


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``process``; RuntimeError if it exits or stays silent."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.strip():
        raise RuntimeError(f"{process.args!r} printed nothing (exit code {process.poll()})")
    return line.strip()


@contextlib.contextmanager
def fake_server(seed: int | None = None, extra_flags: Sequence[str] = ()) -> Iterator[str]:
    """A ``python -m fastwait.testing`` subprocess with :data:`FAKE_FLAGS` (and
    ``extra_flags``, e.g. injected faults); yields its URL."""
    argv = [sys.executable, "-m", "fastwait.testing", *FAKE_FLAGS, *extra_flags]
    if seed is not None:
        argv += ["--seed", str(seed)]
    with running_process(argv) as process:
        yield read_line(process, _STARTUP_TIMEOUT)


@attrs.frozen
class JobRow:
    """The fake's bookkeeping of one job (times on the fake's clock, in seconds)."""

    id: str
    requests: int
    submitted_at: float
    completes_at: float
    terminal_seen_at: float | None
    final_state: str
    curve: str = "straight"

    @property
    def duration(self) -> float:
        return self.completes_at - self.submitted_at

    @property
    def lag(self) -> float:
        """Seconds from completion to the first terminal answer; infinite if never seen."""
        if self.terminal_seen_at is None:
            return math.inf
        return self.terminal_seen_at - self.completes_at


class FakeControl:
    """Client of the fake's ``/_fake/`` routes (unauthenticated, not counted as job requests)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def create(
        self,
        provider: str,
        count: int,
        *,
        duration: float | None = None,
        fail: bool | None = None,
        fails_at: float | None = None,
        curve: str | None = None,
    ) -> list[str]:
        """Create ``count`` jobs at once; unset values are drawn by the fake's job model."""
        body: dict[str, Any] = {"provider": provider, "count": count}
        for key, value in (
            ("duration", duration),
            ("fail", fail),
            ("fails_at", fails_at),
            ("curve", curve),
        ):
            if value is not None:
                body[key] = value
        async with self._session.post(f"{self._url}/_fake/jobs", json=body) as response:
            response.raise_for_status()
            payload = await response.json()
        return [str(job_id) for job_id in payload["ids"]]

    async def jobs(self, provider: str) -> dict[str, JobRow]:
        """Every job of ``provider`` the fake holds, by id."""
        url = f"{self._url}/_fake/jobs"
        async with self._session.get(url, params={"provider": provider}) as response:
            response.raise_for_status()
            payload = await response.json()
        rows = (
            JobRow(
                id=row["id"],
                requests=int(row["requests"]),
                submitted_at=float(row["submitted_at"]),
                completes_at=float(row["completes_at"]),
                terminal_seen_at=(
                    None if row["terminal_seen_at"] is None else float(row["terminal_seen_at"])
                ),
                final_state=str(row["final_state"]),
                curve=str(row.get("curve", "straight")),
            )
            for row in payload["jobs"]
        )
        return {row.id: row for row in rows}


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (so an infinite lag among the top 5 % makes p95 infinite)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def ratio(measured: float, baseline: float) -> float:
    """``measured / baseline`` with infinities and zeros handled as a comparison would."""
    if measured == baseline:
        return 1.0
    if baseline == 0 or math.isinf(measured):
        return math.inf
    if math.isinf(baseline):
        return 0.0
    return measured / baseline


@attrs.frozen
class StrategyFigures:
    """One strategy's results on one batch, from the fake's rows for that batch."""

    strategy: str
    jobs: int
    requests_per_job: float
    lag_p50: float
    lag_p95: float
    lag_max: float
    never_terminal: int
    errors: int
    """Jobs the strategy itself ended with an error (a timeout, an HTTP error)."""
    requests_histogram: Mapping[int, int]

    @classmethod
    def from_rows(cls, strategy: str, rows: Sequence[JobRow], errors: int) -> StrategyFigures:
        lags = [row.lag for row in rows]
        return cls(
            strategy=strategy,
            jobs=len(rows),
            requests_per_job=sum(row.requests for row in rows) / max(len(rows), 1),
            lag_p50=percentile(lags, 0.50),
            lag_p95=percentile(lags, 0.95),
            lag_max=max(lags, default=math.nan),
            never_terminal=sum(math.isinf(lag) for lag in lags),
            errors=errors,
            requests_histogram=dict(sorted(Counter(row.requests for row in rows).items())),
        )

    def as_json(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return round(value, 4) if math.isfinite(value) else None

        return {
            "strategy": self.strategy,
            "jobs": self.jobs,
            "requests_per_job": number(self.requests_per_job),
            "lag_p50": number(self.lag_p50),
            "lag_p95": number(self.lag_p95),
            "lag_max": number(self.lag_max),
            "never_terminal": self.never_terminal,
            "errors": self.errors,
            "requests_histogram": {str(k): v for k, v in self.requests_histogram.items()},
        }


@attrs.frozen
class Target:
    """One issue target: ``measured`` must not exceed ``limit``."""

    description: str
    measured: float
    limit: float

    @property
    def passed(self) -> bool:
        return self.measured <= self.limit

    def as_json(self) -> dict[str, Any]:
        measured = self.measured if math.isfinite(self.measured) else str(self.measured)
        return {
            "description": self.description,
            "measured": measured,
            "limit": self.limit,
            "passed": self.passed,
        }


def _seconds(value: float) -> str:
    return f"{value:7.2f}s" if math.isfinite(value) else "    inf"


def format_figures(figures: Sequence[StrategyFigures]) -> str:
    """The scenario's table, then each strategy's histogram of requests per job."""
    lines = [
        f"{'strategy':<16}{'jobs':>6}{'req/job':>9}{'lag p50':>9}{'lag p95':>9}"
        f"{'lag max':>9}{'never':>7}{'errors':>8}"
    ]
    for f in figures:
        lines.append(
            f"{f.strategy:<16}{f.jobs:>6}{f.requests_per_job:>9.2f}{_seconds(f.lag_p50):>9}"
            f"{_seconds(f.lag_p95):>9}{_seconds(f.lag_max):>9}{f.never_terminal:>7}{f.errors:>8}"
        )
    lines.append("requests per job (count: jobs):")
    for f in figures:
        spread = " ".join(f"{n}:{jobs}" for n, jobs in f.requests_histogram.items())
        lines.append(f"  {f.strategy:<14}{spread}")
    return "\n".join(lines)


def format_targets(targets: Sequence[Target]) -> str:
    def shown(value: float) -> str:
        if not math.isfinite(value):
            return str(value)
        return str(int(value)) if float(value).is_integer() else f"{value:.3f}"

    return "\n".join(
        f"  {'PASS' if t.passed else 'FAIL'}  {t.description}: {shown(t.measured)}"
        f" (limit {shown(t.limit)})"
        for t in targets
    )


@attrs.frozen
class ScenarioReport:
    """One scenario's printed text, its targets and its figures for ``--json``."""

    name: str
    text: str
    targets: tuple[Target, ...]
    figures: Mapping[str, Any]

    @property
    def passed(self) -> bool:
        return all(target.passed for target in self.targets)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.figures,
            "targets": [target.as_json() for target in self.targets],
            "passed": self.passed,
        }
