"""Webhooks per second the ASGI receiver verifies and resolves under uvicorn, against the route
a FastAPI user writes by hand with ``standardwebhooks`` under the same uvicorn.

The issue's targets: the receiver's rate at least 1.0 of the hand-written route's (moonshot
1.3: a pure ASGI app skips the framework's routing and validation), both measured in the same
run with the same load generator (``wrk``, 64 keep-alive connections, each pre-signed webhook
sent once), with webhook-to-waiter latency p50/p99. The hand-written route reads the body,
verifies it (``standardwebhooks`` also decodes the JSON) and resolves the future its job's
waiter awaits: no body limit, no content-type check, no dedupe, no schema, no early arrivals.
The receiver does all of those and publishes into a registry that the waiter awaits.
A third mode, the same receiver mounted at ``/fastwait`` in a FastAPI app as the recipes in
``docs/guides/frameworks.md`` do, shows what Starlette's routing adds; it is reported, not
judged.

Each run starts a fresh :mod:`tests.benchmarks._asgi_server` process; the two alternate in
every round and each one's median is taken, because on a shared two-core machine only ratios
measured side by side mean anything. Rates come from the server's own bookkeeping
(completions, i.e. waiters woken, between the first and the last). Latency runs stamp each
request with its sending time, which the server subtracts when the waiter wakes: at a
moderate concurrency (the handler's own cost plus short queues) and at the throughput runs'.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import statistics
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import aiohttp
import attrs

from ._harness import ScenarioReport, Target, percentile, read_line, running_process
from .bench_receiver import (
    RunFigures,
    _AtLeast,
    _Delivery,
    _Generate,
    _generator,
    _job_ids,
    _sign,
    cpu_per_request,
    table_row,
)

__all__ = ["AsgiOptions", "run"]

_REPO: Final = Path(__file__).resolve().parents[2]
_STARTUP_TIMEOUT: Final = 30.0
_ARM_BATCH: Final = 10_000
_MODES: Final = ("handwritten", "receiver", "mounted")
_MOONSHOT: Final = 1.3


@attrs.frozen
class AsgiOptions:
    """``generator`` is ``"wrk"`` (``apt-get install -y wrk``) or ``"aiohttp"``."""

    jobs: int = 20_000
    connections: int = 64
    runs: int = 3
    latency_jobs: int = 4_000
    latency_connections: int = 8
    min_ratio: float = 1.0
    """Least receiver rate, as a share of the hand-written FastAPI route's."""
    seed: int = 0
    generator: str = "wrk"
    stall_seconds: float = 20.0


@contextlib.asynccontextmanager
async def _server(mode: str, *, stamp: bool) -> AsyncIterator[str]:
    argv = [sys.executable, "-m", "tests.benchmarks._asgi_server", mode]
    if stamp:
        argv.append("--stamp")
    with running_process(argv, cwd=_REPO) as process:
        yield await asyncio.to_thread(read_line, process, _STARTUP_TIMEOUT)


async def _one_run(
    name: str,
    mode: str,
    deliveries: Sequence[_Delivery],
    connections: int,
    generate: _Generate,
    options: AsgiOptions,
    *,
    stamp: bool = False,
) -> RunFigures:
    async with _server(mode, stamp=stamp) as url, aiohttp.ClientSession() as session:
        for start in range(0, len(deliveries), _ARM_BATCH):
            ids = [delivery.job_id for delivery in deliveries[start : start + _ARM_BATCH]]
            async with session.post(f"{url}/_bench/arm", json={"ids": ids}) as response:
                response.raise_for_status()
        load, stats = await generate(
            session, url, deliveries, connections, stamp, options.stall_seconds
        )
        if load.failures:
            raise RuntimeError(f"{name}: {load.failures} webhooks failed")
        latencies: tuple[float, ...] = ()
        if stamp:
            async with session.get(f"{url}/_bench/latencies") as response:
                latencies = tuple(await response.json())
    wall = stats["wall_seconds"]
    return RunFigures(
        name=name,
        jobs=len(deliveries),
        connections=connections,
        rate=(stats["completed"] - 1) / wall if wall > 0 else math.inf,
        server_cpu=stats["cpu_seconds"] / wall if wall > 0 else math.nan,
        generator_cpu=load.cpu_seconds / load.wall_seconds,
        latencies=latencies,
    )


def _text(
    options: AsgiOptions,
    generator: str,
    http: str,
    runs: Sequence[RunFigures],
    rates: Mapping[str, float],
    target: Target,
) -> str:
    header = (
        f"{'run':<34}{'jobs':>7}{'conns':>6}{'req/s':>10}{'server':>9}{'us/req':>8}{'generator':>10}"
        f"{'p50 ms':>10}{'p99 ms':>10}"
    )
    handwritten, received, mounted = rates["handwritten"], rates["receiver"], rates["mounted"]
    throughput = {mode: [f for f in runs if f.name.startswith(f"{mode} #")] for mode in _MODES}
    return "\n".join(
        [
            f"== asgi: signed tools.fast completions under uvicorn ({http}), {options.jobs} per"
            f" throughput run, {options.connections} connections; generator: {generator} ==",
            header,
            *(table_row(figures, with_cpu_per_request=True) for figures in runs),
            "req/s: completions per second, counted by the server; server, generator: share of"
            " a core;\nus/req: server CPU microseconds per completion; p50, p99: from the"
            " webhook's sending to its waiter's waking",
            "median server CPU per webhook: "
            + ", ".join(
                f"{mode} {statistics.median(cpu_per_request(f) for f in throughput[mode]):.0f} us"
                for mode in _MODES
            ),
            f"median rate: hand-written FastAPI + standardwebhooks {handwritten:.0f} req/s,"
            f" fastwait ASGI receiver {received:.0f} req/s, mounted in FastAPI {mounted:.0f}"
            f" req/s ({mounted / handwritten:.2f} of the hand-written route)",
            f"  {'PASS' if target.passed else 'FAIL'}  {target.description}:"
            f" {target.measured:.2f} (at least {target.limit:.2f}; moonshot {_MOONSHOT:.2f}"
            f" {'reached' if target.measured >= _MOONSHOT else 'not reached'})",
        ]
    )


async def run(options: AsgiOptions) -> ScenarioReport:
    """Alternate hand-written and receiver throughput runs, then latency runs; judge."""
    from ._asgi_server import HTTP_IMPLEMENTATION

    generator, generate = _generator(options.generator)
    rng, serials = random.Random(options.seed), itertools.count()
    runs: list[RunFigures] = []
    for round_ in range(1, options.runs + 1):
        deliveries = _sign(_job_ids(options.jobs, rng, serials))  # the same bytes for every mode
        for mode in _MODES:
            runs.append(
                await _one_run(
                    f"{mode} #{round_}", mode, deliveries, options.connections, generate, options
                )
            )
    for name, jobs, connections in (
        ("latency, moderate", options.latency_jobs, options.latency_connections),
        ("latency, saturated", options.jobs // 2, options.connections),
    ):
        deliveries = _sign(_job_ids(jobs, rng, serials))
        for mode in _MODES:
            runs.append(
                await _one_run(
                    f"{mode} {name}", mode, deliveries, connections, generate, options, stamp=True
                )
            )
    rates = {
        mode: statistics.median(f.rate for f in runs if f.name.startswith(f"{mode} #"))
        for mode in _MODES
    }
    ratio = rates["receiver"] / rates["handwritten"]
    target = _AtLeast(
        "ASGI receiver rate / hand-written FastAPI route rate", ratio, options.min_ratio
    )
    latency = {
        f.name: {
            "p50_ms": round(percentile(f.latencies, 0.50) * 1000, 3),
            "p99_ms": round(percentile(f.latencies, 0.99) * 1000, 3),
        }
        for f in runs
        if f.latencies
    }
    return ScenarioReport(
        "asgi",
        _text(options, generator, HTTP_IMPLEMENTATION, runs, rates, target),
        (target,),
        {
            "generator": generator,
            "http": HTTP_IMPLEMENTATION,
            "jobs": options.jobs,
            "connections": options.connections,
            "handwritten_rate": round(rates["handwritten"], 1),
            "receiver_rate": round(rates["receiver"], 1),
            "mounted_rate": round(rates["mounted"], 1),
            "ratio": round(ratio, 3),
            "latency": latency,
            "runs": [figures.as_json() for figures in runs],
        },
    )
