"""``fastwait demo``: the whole flow, offline, against the bundled fake provider.

Starts :class:`fastwait.testing.FakeProvider` on loopback, submits a batch to each of the four
APIs (compressor.app has no submit endpoint in its documentation, so its jobs are made on the
fake directly, as if submitted elsewhere), awaits them all through one shared registry with the
live display, downloads every output, and prints what it cost: polls per job and detection
lag (when a poll first saw the job finished, minus when it really finished).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastwait._client import Client, JobResult
from fastwait.cli._display import summary_table
from fastwait.cli._live import LiveDisplay, open_display
from fastwait.cli._outcome import EXIT_JOBS_FAILED, JobReport, download_report, exit_status
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress, ToolsFastConvert
from fastwait.registry._registry import Registry
from fastwait.testing import FakeProvider, LogNormalDurations

__all__ = ["run_demo"]

_INPUTS = {
    "compress": ("photo.jpg", {}),
    "convert": ("report.pdf", {"targetFormat": "jpg"}),
    "media": ("clip.mp4", {"preset": "low-bandwidth"}),
}


async def _merge(*iterators: AsyncIterator[JobResult]) -> AsyncIterator[JobResult]:
    queue: asyncio.Queue[JobResult | None] = asyncio.Queue()

    async def drain(iterator: AsyncIterator[JobResult]) -> None:
        try:
            async for item in iterator:
                await queue.put(item)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(drain(it)) for it in iterators]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_demo(*, jobs: int, median: float, seed: int | None) -> int:
    """Run the demo; exit status 0 when every job succeeded and was downloaded."""
    workdir = Path(tempfile.mkdtemp(prefix="fastwait-demo-"))
    for name, _ in _INPUTS.values():
        (workdir / name).write_bytes(b"fastwait demo input " * 512)
    out = workdir / "outputs"
    durations = LogNormalDurations(median=median, sigma=0.8, low=0.2, high=median * 6)
    registry = Registry()
    display = open_display(sys.stdout)
    print(f"fastwait demo: {jobs * 4} jobs on 4 APIs (median {median:g} s), outputs in {out}")
    async with FakeProvider(durations=durations, seed=seed) as fake:
        clients = {
            "compress": Client(
                ToolsFastCompress("test-key", fake.base_url("compress")),
                registry=registry,
                on_progress=display.progress,
            ),
            "convert": Client(
                ToolsFastConvert("test-key", fake.base_url("convert")),
                registry=registry,
                on_progress=display.progress,
            ),
            "compressorapp": Client(
                CompressorApp("test-key", fake.base_url("compressorapp")),
                registry=registry,
                on_progress=display.progress,
            ),
            "media": Client(
                MediaJobs(fake.base_url("media")), registry=registry, on_progress=display.progress
            ),
        }
        reports: list[JobReport] = []
        try:
            batches: dict[str, list[str]] = {}
            for name, client in clients.items():
                if name == "compressorapp":
                    batches[name] = [fake.create_job(name) for _ in range(jobs)]
                else:
                    file_name, options = _INPUTS[name]
                    accepted = await asyncio.gather(
                        *(client.submit(workdir / file_name, **options) for _ in range(jobs))
                    )
                    batches[name] = [a.id for a in accepted]
                display.add(name, batches[name])
            async with display:
                async for result in _merge(
                    *(clients[name].as_completed(ids) for name, ids in batches.items())
                ):
                    report = await download_report(
                        clients[result.provider],
                        result,
                        out / result.provider / result.job_id,
                        overwrite=False,
                    )
                    reports.append(report)
                    display.finished(report)
        finally:
            for client in clients.values():
                await client.aclose()
        lags = {
            report.result.job_id: _lag(fake, report.result)
            for report in reports
            if report.result.source == "poll"
        }
    live = isinstance(display, LiveDisplay)
    width = shutil.get_terminal_size().columns if live else None
    print(summary_table(reports, every_job=not live, width=width))
    print()
    print(f"{'api':<14}{'jobs':>5}{'polls/job':>11}{'lag p50':>9}{'lag max':>9}")
    for name, ids in batches.items():
        mine = [r.result for r in reports if r.result.provider == name]
        job_lags = sorted(lags[r.job_id] for r in mine if r.job_id in lags)
        polls = sum(r.polls for r in mine) / max(len(mine), 1)
        p50 = statistics.median(job_lags) if job_lags else float("nan")
        worst = job_lags[-1] if job_lags else float("nan")
        print(f"{name:<14}{len(ids):>5}{polls:>11.2f}{p50:>8.2f}s{worst:>8.2f}s")
    saved = sum(len(report.saved) for report in reports)
    print(f"{saved} output files saved under {out}")
    return exit_status(reports) if len(reports) == jobs * 4 else EXIT_JOBS_FAILED


def _lag(fake: FakeProvider, result: JobResult) -> float:
    job = fake.job(result.provider, result.job_id)
    if job.terminal_seen_at is None:
        return float("inf")
    return max(job.terminal_seen_at - job.completes_at, 0.0)
