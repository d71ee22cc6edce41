"""``fastwait demo``: the whole flow, offline, against the bundled fake provider.

Starts :class:`fastwait.testing.FakeProvider` on loopback, submits a batch to each of the four
APIs (compressor.app has no submit endpoint in its documentation, so its jobs are made on the
fake directly, as if submitted elsewhere), awaits them all through one shared registry with the
live display, downloads every output, and prints what it cost: polls per job and detection
lag (when a poll first saw the job finished, minus when it really finished).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastwait._client import Client, JobResult
from fastwait.cli._display import LiveDisplay, summary_table
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
    out.mkdir()
    durations = LogNormalDurations(median=median, sigma=0.8, low=0.2, high=median * 6)
    registry = Registry()
    total = jobs * 4
    display = LiveDisplay(total, sys.stdout) if sys.stdout.isatty() else None
    progress = display.progress if display else None
    print(f"fastwait demo: {total} jobs on 4 APIs (median {median:g} s), outputs in {out}")
    async with FakeProvider(durations=durations, seed=seed) as fake:
        clients = {
            "compress": Client(
                ToolsFastCompress("test-key", fake.base_url("compress")),
                registry=registry,
                on_progress=progress,
            ),
            "convert": Client(
                ToolsFastConvert("test-key", fake.base_url("convert")),
                registry=registry,
                on_progress=progress,
            ),
            "compressorapp": Client(
                CompressorApp("test-key", fake.base_url("compressorapp")), registry=registry
            ),
            "media": Client(MediaJobs(fake.base_url("media")), registry=registry),
        }
        results: list[JobResult] = []
        try:
            batches: dict[str, list[str]] = {}
            for name, client in clients.items():
                if name == "compressorapp":
                    batches[name] = [fake.create_job(name) for _ in range(jobs)]
                    continue
                file_name, options = _INPUTS[name]
                accepted = await asyncio.gather(
                    *(client.submit(workdir / file_name, **options) for _ in range(jobs))
                )
                batches[name] = [a.id for a in accepted]
            downloads = 0
            async for result in _merge(
                *(clients[name].as_completed(ids) for name, ids in batches.items())
            ):
                results.append(result)
                if display:
                    display.finished(result)
                if result.succeeded:
                    target = out / result.provider / result.job_id
                    target.mkdir(parents=True)
                    saved = await clients[result.provider].download_outputs(
                        result.job_id, target, status=result.status
                    )
                    downloads += len(saved)
        finally:
            for client in clients.values():
                await client.aclose()
        if display:
            display.close()
        lags = {result.job_id: _lag(fake, result) for result in results if result.source == "poll"}
    print(summary_table(results))
    print()
    print(f"{'api':<14}{'jobs':>5}{'polls/job':>11}{'lag p50':>9}{'lag max':>9}")
    for name, ids in batches.items():
        mine = [r for r in results if r.provider == name]
        job_lags = sorted(lags[r.job_id] for r in mine if r.job_id in lags)
        polls = sum(r.polls for r in mine) / max(len(mine), 1)
        p50 = statistics.median(job_lags) if job_lags else float("nan")
        worst = job_lags[-1] if job_lags else float("nan")
        print(f"{name:<14}{len(ids):>5}{polls:>11.2f}{p50:>8.2f}s{worst:>8.2f}s")
    print(f"{downloads} output files saved under {out}")
    return 0 if all(r.succeeded for r in results) and len(results) == total else 1


def _lag(fake: FakeProvider, result: JobResult) -> float:
    job = fake.job(result.provider, result.job_id)
    if job.terminal_seen_at is None:
        return float("inf")
    return max(job.terminal_seen_at - job.completes_at, 0.0)
