"""What a client learns from the jobs it saw end: requests per job, cold against warm.

Jobs without progress (compressor.app) that all take the same time are where learning pays
most: a client that has seen such jobs end polls the next ones near their end. One client
awaits a first batch (**cold**: it has seen no job end; the baseline) and then a second batch
of the same jobs (**warm**), against a fake in this process. Requests are counted by the fake;
lag is the fake's first terminal answer minus the job's true end. This is the ratio the unit
suite once asserted (``warm < 0.7 * cold``, 30 jobs of 0.6 s, with :data:`QUICK`), at a size
and in a place where a loaded machine cannot fail a test with it. ``--policy`` overrides
replace :data:`QUICK` (``--policy floor=0.25`` alone gives the defaults but for that floor).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from fastwait import Client, PollPolicy
from fastwait.providers import CompressorApp
from fastwait.testing import FakeProvider

from ._harness import ScenarioReport, Target, format_targets, percentile, ratio

__all__ = ["LearningOptions", "run"]

_WARM_OVER_COLD = 0.7
"""Requests per job of the warm batch over the cold one's, at most."""
QUICK = PollPolicy(
    blind_first_poll=0.2, lag_allowance=0.3, blind_step=0.08, blind_growth=0.0, floor=0.02
)
"""The unit test's settings: the defaults' rules, on a scale of a second."""


@attrs.frozen
class LearningOptions:
    jobs: int = 200
    durations: tuple[float, ...] = (0.6, 3.0)
    """Each is a run of its own: every job of it takes exactly that many seconds."""
    seed: int = 0
    policy: PollPolicy = QUICK


@attrs.frozen
class _Batch:
    requests_per_job: float
    lag_p95: float


def _figures(fake: FakeProvider, job_ids: Sequence[str]) -> _Batch:
    jobs = [fake.job("compressorapp", job_id) for job_id in job_ids]
    lags = [
        job.terminal_seen_at - job.completes_at for job in jobs if job.terminal_seen_at is not None
    ]
    return _Batch(
        sum(job.requests for job in jobs) / max(len(jobs), 1),
        percentile(lags, 0.95) if len(lags) == len(jobs) else float("inf"),
    )


async def _await_all(client: Client, job_ids: Sequence[str]) -> None:
    async for result in client.as_completed(job_ids, timeout=600):
        if not result.succeeded:
            raise RuntimeError(f"job {result.job_id} did not succeed: {result.error}")


async def _one_duration(options: LearningOptions, duration: float) -> tuple[_Batch, _Batch]:
    async with FakeProvider(seed=options.seed, durations=duration) as fake:
        provider = CompressorApp("test-key", fake.base_url("compressorapp"))
        async with Client(provider, policy=options.policy) as client:
            cold = [fake.create_job("compressorapp") for _ in range(options.jobs)]
            await _await_all(client, cold)
            warm = [fake.create_job("compressorapp") for _ in range(options.jobs)]
            await _await_all(client, warm)
        return _figures(fake, cold), _figures(fake, warm)


async def run(options: LearningOptions) -> ScenarioReport:
    lines = [
        f"== learning: {options.jobs} compressor.app jobs (no progress) of one duration, then"
        f" {options.jobs} more, in one client; {options.policy!r} =="
    ]
    lines.append(f"{'duration':>9}  {'cold req/job':>12}  {'warm req/job':>12}  warm/cold"
                 f"  {'cold p95 lag':>12}  {'warm p95 lag':>12}")  # fmt: skip
    targets: list[Target] = []
    figures: dict[str, float] = {}
    for duration in options.durations:
        cold, warm = await _one_duration(options, duration)
        learned = ratio(warm.requests_per_job, cold.requests_per_job)
        lines.append(
            f"{duration:>8g}s  {cold.requests_per_job:>12.2f}  {warm.requests_per_job:>12.2f}"
            f"  {learned:>9.3f}  {cold.lag_p95:>11.2f}s  {warm.lag_p95:>11.2f}s"
        )
        targets.append(
            Target(f"{duration:g} s jobs: warm requests/job / cold", learned, _WARM_OVER_COLD)
        )
        figures |= {
            f"cold_requests_per_job_{duration:g}s": round(cold.requests_per_job, 3),
            f"warm_requests_per_job_{duration:g}s": round(warm.requests_per_job, 3),
            f"cold_lag_p95_{duration:g}s": round(cold.lag_p95, 3),
            f"warm_lag_p95_{duration:g}s": round(warm.lag_p95, 3),
        }
    lines.append(format_targets(targets))
    return ScenarioReport(
        name="learning", text="\n".join(lines), targets=tuple(targets), figures=figures
    )
