"""The client half of the scale benchmark, run in a fresh process of its own.

``ru_maxrss`` is a high-water mark for the whole process, so it only describes 10,000 waits if
nothing else ever ran in the process: the polling scenarios (and the fake) must not. Usage:
``python -m tests.benchmarks._scale_client URL JOBS MAX_CONNECTIONS [POLICY_JSON]``; prints one
JSON line of figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from fastwait import Client, PollPolicy
from fastwait.providers import ToolsFastCompress

from ._harness import API_KEY, FakeControl

__all__ = ["main"]


def _rss_kib() -> int:
    """Resident set size now (not the peak), in KiB, from /proc."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _wait_all(
    url: str, jobs: int, max_connections: int, policy: PollPolicy
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        ids = await FakeControl(session, url).create("compress", jobs)
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    states: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    polls = 0
    provider = ToolsFastCompress(API_KEY, url)
    async with Client(provider, policy=policy, max_connections=max_connections) as client:
        async for result in client.as_completed(ids):
            polls += result.polls
            if result.status is not None:
                states[result.status.state.name] += 1
            else:
                errors[type(result.error).__name__] += 1
    return {
        "jobs": jobs,
        "resolved": sum(states.values()),
        "states": dict(states),
        "errors": dict(errors),
        "client_polls": polls,
        "wait_seconds": time.perf_counter() - started,
        "wait_cpu_seconds": _cpu_seconds() - cpu_started,
    }


def main(argv: Sequence[str]) -> int:
    url, jobs, max_connections = argv[0], int(argv[1]), int(argv[2])
    policy = PollPolicy(**json.loads(argv[3])) if len(argv) > 3 else PollPolicy()
    baseline_rss = _rss_kib()
    baseline_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = asyncio.run(_wait_all(url, jobs, max_connections, policy))
    figures |= {
        "baseline_rss_kib": baseline_rss,
        "baseline_peak_rss_kib": baseline_peak,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cpu_seconds": _cpu_seconds(),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
