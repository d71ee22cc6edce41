"""The client half of the scale benchmark, run in a fresh process of its own.

The peak is the address space's high-water mark (``VmHWM``), so it only describes the waits if
nothing else ever ran in the process: the polling scenarios (and the fake) must not. Not
``ru_maxrss``: it survives ``exec``, so a child of a big driver (holding earlier runs' rows)
reports the driver's size at the fork. The script
imports nothing from the benchmarks package, so it runs against any fastwait tree (today's
``main`` exported with ``git archive``, say) put first on ``PYTHONPATH``:
``python tests/benchmarks/_scale_client.py URL API_KEY JOBS MAX_CONNECTIONS [POLICY_JSON]``
prints one JSON line of figures; ``python tests/benchmarks/_scale_client.py --import-only``
prints what importing fastwait costs; ``... --saturate URL API_KEY JOBS MAX_CONNECTIONS SECONDS``
polls JOBS jobs that never end as fast as it can on one CPU for SECONDS, and prints the polls
the server counted per second of wall time and per second of the client's CPU (on a shared
machine the core is not the client's alone: per CPU second is what a core of its own would
do). ``FASTWAIT_BENCH_LOOP=uvloop`` runs the client on uvloop (what a service with the
``speed`` extra does), else on asyncio's loop; ``FASTWAIT_BENCH_GC=cli`` raises the garbage
collector's threshold as the ``fastwait`` command does for its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from typing import Any

_HEAVY_MODULES = (
    "redis",
    "fastwait.receiver",
    "fastwait.testing",
    "fastwait.registry._redis",
    "fastwait.registry._sqlite",
    "sqlite3",
    "aiohttp.web",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "orjson",
    "uvloop",
)


def _rss_kib() -> int:
    """Resident set size now (not the peak), in KiB, from /proc."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_rss_kib() -> int:
    """This address space's peak resident set size in KiB (``VmHWM``: reset by ``exec``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _import_figures() -> dict[str, Any]:
    rss_before = _rss_kib()
    started = time.perf_counter()
    import fastwait  # noqa: F401 - importing is what is measured

    seconds = time.perf_counter() - started
    return {
        "import_seconds": seconds,
        "rss_before_import_kib": rss_before,
        "rss_after_import_kib": _rss_kib(),
        "heavy_modules_imported": sorted(m for m in _HEAVY_MODULES if m in sys.modules),
    }


async def _create_jobs(url: str, jobs: int, duration: float | None = None) -> list[str]:
    import aiohttp

    body: dict[str, Any] = {"provider": "compress", "count": jobs}
    if duration is not None:
        body |= {"duration": duration, "fail": False}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/_fake/jobs", json=body) as answer,
    ):
        answer.raise_for_status()
        payload = await answer.json()
    return [str(job_id) for job_id in payload["ids"]]


async def _wait_all(
    url: str, api_key: str, jobs: int, max_connections: int, policy: dict[str, float]
) -> dict[str, Any]:
    from fastwait import Client, PollPolicy
    from fastwait.providers import ToolsFastCompress

    ids = await _create_jobs(url, jobs)
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    states: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    polls = 0
    provider = ToolsFastCompress(api_key, url)
    async with Client(
        provider, policy=PollPolicy(**policy), max_connections=max_connections
    ) as client:
        async for result in client.as_completed(ids):
            polls += result.polls
            if result.status is not None:
                states[result.status.state.name] += 1
            else:
                errors[type(result.error).__name__] += 1
    return {
        "jobs": jobs,
        "ids": ids,
        "resolved": sum(states.values()),
        "states": dict(states),
        "errors": dict(errors),
        "client_polls": polls,
        "wait_seconds": time.perf_counter() - started,
        "wait_cpu_seconds": _cpu_seconds() - cpu_started,
    }


async def _fake_requests(url: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats") as answer:
        answer.raise_for_status()
        return int((await answer.json())["requests"])


_WARMUP_SECONDS = 2.0


async def _saturate(
    url: str, api_key: str, jobs: int, max_connections: int, seconds: float
) -> dict[str, Any]:
    """Poll ``jobs`` never-ending jobs every 10 ms (far more than one core can): the polls per
    second the fake counts over ``seconds`` (after a warm-up) are the client's peak."""
    from fastwait import Client, PollPolicy
    from fastwait.providers import ToolsFastCompress

    ids = await _create_jobs(url, jobs, duration=3600.0)
    policy = PollPolicy(floor=0.01, ceiling=0.01, first_poll=0.0, jitter=0.0)
    provider = ToolsFastCompress(api_key, url)
    async with Client(provider, policy=policy, max_connections=max_connections) as client:

        async def drain() -> None:
            async for _ in client.as_completed(ids):
                pass

        draining = asyncio.create_task(drain())
        await asyncio.sleep(_WARMUP_SECONDS)
        before, cpu_before, started = await _fake_requests(url), _cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        after, cpu_after, ended = await _fake_requests(url), _cpu_seconds(), time.perf_counter()
        draining.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await draining
    return {
        "polls": after - before,
        "seconds": ended - started,
        "polls_per_second": (after - before) / (ended - started),
        "cpu_seconds": cpu_after - cpu_before,
        "polls_per_cpu_second": (after - before) / max(cpu_after - cpu_before, 1e-9),
    }


def _run(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    if os.environ.get("FASTWAIT_BENCH_GC") == "cli":  # what the fastwait command does
        gc.set_threshold(10_000, 10, 10)
    factory = None
    if os.environ.get("FASTWAIT_BENCH_LOOP") == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        figures = runner.run(main)
    figures["loop"] = "uvloop" if factory is not None else "asyncio"
    return figures


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--import-only"]:
        print(json.dumps(_import_figures()), flush=True)
        return 0
    if argv[:1] == ["--saturate"]:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core: the first allowed
        url, api_key, jobs, connections, seconds = argv[1], argv[2], *map(float, argv[3:6])
        figures = _run(_saturate(url, api_key, int(jobs), int(connections), seconds))
        print(json.dumps(figures), flush=True)
        return 0
    url, api_key, jobs, max_connections = argv[0], argv[1], int(argv[2]), int(argv[3])
    policy = json.loads(argv[4]) if len(argv) > 4 else {}
    figures = _import_figures()
    baseline_rss = _rss_kib()
    baseline_peak = _peak_rss_kib()
    figures |= _run(_wait_all(url, api_key, jobs, max_connections, policy))
    figures |= {
        "baseline_rss_kib": baseline_rss,
        "baseline_peak_rss_kib": baseline_peak,
        "peak_rss_kib": _peak_rss_kib(),
        "cpu_seconds": _cpu_seconds(),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
