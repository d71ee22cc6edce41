"""Replicas sharing Redis: what a job costs in API requests and Redis round trips, and how soon
a result published on one replica wakes the waiter on another.

Needs the Redis server (``--redis-url``, default ``redis://127.0.0.1:6379/0``); every key
lives under a random prefix deleted afterwards. Three figures:

* the same jobs (the issue's log-normal workload, from the fake in a subprocess) awaited by
  one replica, then by ``--replicas`` replicas at once: requests per job at the fake (the
  poll lease should keep them equal), which replica polled how many jobs, and Redis commands
  per resolved job. Commands are counted client side by a connection class that counts what
  it sends (Lua scripts count once, as the round trip they are), connection set-up included;
* publish-to-wake latency: replica A publishes a terminal status while replica B awaits the
  key, one job at a time; p50/p99 over ``--latency-jobs`` jobs.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
import attrs
import redis.asyncio

from fastwait import Client, JobState, JobStatus, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore

from ._harness import (
    API_KEY,
    FakeControl,
    ScenarioReport,
    StrategyFigures,
    Target,
    fake_server,
    format_figures,
    format_targets,
    percentile,
    ratio,
)

__all__ = ["RedisOptions", "run"]


@attrs.frozen
class RedisOptions:
    url: str = "redis://127.0.0.1:6379/0"
    jobs: int = 300
    replicas: int = 3
    latency_jobs: int = 1000
    seed: int = 0


class _CountingConnection(redis.asyncio.Connection):
    """Counts the commands each named client sends (its name is the store's replica id)."""

    sent: ClassVar[collections.Counter[str]] = collections.Counter()

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        _CountingConnection.sent[self.client_name or "?"] += 1
        await super().send_command(*args, **kwargs)


def _commands(stores: Sequence[RedisResultStore]) -> list[int]:
    return [_CountingConnection.sent[f"fastwait-{store.replica_id}"] for store in stores]


@attrs.frozen
class _ReplicaRun:
    replicas: int
    resolved: list[int]
    """Jobs each replica saw resolved."""
    polled: list[int]
    """Jobs each replica polled at least once."""
    commands: list[int]
    """Redis commands each replica sent."""
    figures: StrategyFigures

    @property
    def commands_per_job(self) -> float:
        return sum(self.commands) / max(self.figures.jobs, 1)


async def _await_jobs(
    options: RedisOptions, fake_url: str, control: FakeControl, prefix: str, replicas: int
) -> _ReplicaRun:
    job_ids = await control.create("compress", options.jobs)
    stores = [
        RedisResultStore(options.url, prefix=prefix, connection_class=_CountingConnection)
        for _ in range(replicas)
    ]
    registries = [Registry(store) for store in stores]
    api = ToolsFastCompress(API_KEY, fake_url)
    clients = [Client(api, registry=registry, max_connections=64) for registry in registries]
    try:
        outcomes = await asyncio.gather(
            *(_results(client, job_ids) for client in clients), return_exceptions=False
        )
    finally:
        for client, registry in zip(clients, registries, strict=True):
            await client.aclose()
            await registry.aclose()
    rows = await control.jobs("compress")
    mine = [rows[job_id] for job_id in job_ids]
    errors = sum(1 for results in outcomes for r in results if r[1] is None)
    return _ReplicaRun(
        replicas=replicas,
        resolved=[sum(1 for r in results if r[1] is not None) for results in outcomes],
        polled=[sum(1 for r in results if r[2] > 0) for results in outcomes],
        commands=_commands(stores),
        figures=StrategyFigures.from_rows(f"{replicas} replica(s)", mine, errors),
    )


async def _results(
    client: Client, job_ids: Sequence[str]
) -> list[tuple[str, JobState | None, int]]:
    found: list[tuple[str, JobState | None, int]] = []
    async for result in client.as_completed(job_ids, timeout=120):
        state = result.status.state if result.status is not None else None
        found.append((result.job_id, state, result.polls))
    return found


async def _publish_to_wake(options: RedisOptions, prefix: str) -> list[float]:
    """Seconds from replica A's publish to the wake-up of replica B's waiter, per job."""
    store_b = RedisResultStore(options.url, prefix=prefix)
    async with Registry(RedisResultStore(options.url, prefix=prefix)) as a, Registry(store_b) as b:
        await store_b.wait_listening()

        async def wake(key: tuple[str, str]) -> float:
            await b.wait(key, timeout=10)
            return time.perf_counter()

        latencies: list[float] = []
        for n in range(options.latency_jobs):
            job_id = f"latency-{n}"
            waiter = asyncio.create_task(wake(("compress", job_id)))
            await asyncio.sleep(0.002)  # let the waiter's first look (a GET) find nothing
            started = time.perf_counter()
            await a.publish(JobStatus(id=job_id, provider="compress", state=JobState.SUCCEEDED))
            latencies.append(await waiter - started)
    return latencies


async def _delete_keys(url: str, prefix: str) -> None:
    admin = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in admin.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await admin.delete(*keys[start : start + 1000])
    finally:
        await admin.aclose()


def _per_replica(values: Sequence[int]) -> str:
    return " / ".join(str(v) for v in values)


async def run(options: RedisOptions) -> ScenarioReport:
    """Run the Redis scenario once and judge it."""
    prefix = f"fastwait-bench:{secrets.token_hex(6)}:"
    try:
        with fake_server(options.seed) as fake_url:
            async with aiohttp.ClientSession() as session:
                control = FakeControl(session, fake_url)
                alone = await _await_jobs(options, fake_url, control, prefix, 1)
                shared = await _await_jobs(options, fake_url, control, prefix, options.replicas)
        latencies = await _publish_to_wake(options, prefix)
    finally:
        await _delete_keys(options.url, prefix)
    p50, p99 = (percentile(latencies, q) * 1000 for q in (0.50, 0.99))
    unresolved = sum(options.jobs - n for run in (alone, shared) for n in run.resolved)
    cost = ratio(shared.figures.requests_per_job, alone.figures.requests_per_job)
    targets = (
        Target("job results missing on some replica", unresolved, 0),
        Target(f"requests per job, {options.replicas} replicas / 1 replica", cost, 1.3),
        Target("publish-to-wake p99 across replicas, ms", p99, 50.0),
    )
    lines = [
        f"== redis: {options.jobs} tools.fast jobs, 1 then {options.replicas} replicas;"
        f" {options.latency_jobs} publish-to-wake round trips (seed {options.seed}) ==",
        format_figures([alone.figures, shared.figures]),
    ]
    for run_ in (alone, shared):
        lines.append(
            f"{run_.replicas} replica(s): jobs awaited per replica {options.jobs},"
            f" polled {_per_replica(run_.polled)};"
            f" Redis commands {_per_replica(run_.commands)}"
            f" = {run_.commands_per_job:.2f} per resolved job"
        )
    lines.append(
        f"publish on replica A -> waiter wakes on replica B: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    lines.append(format_targets(targets))
    return ScenarioReport(
        "redis",
        "\n".join(lines),
        targets,
        {
            "jobs": options.jobs,
            "replicas": options.replicas,
            "seed": options.seed,
            "runs": [
                {
                    "replicas": run_.replicas,
                    "polled": run_.polled,
                    "commands": run_.commands,
                    "commands_per_job": round(run_.commands_per_job, 3),
                    "server": run_.figures.as_json(),
                }
                for run_ in (alone, shared)
            ],
            "publish_to_wake_ms": {"p50": round(p50, 3), "p99": round(p99, 3)},
        },
    )
