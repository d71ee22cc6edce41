"""Replicas sharing Redis: what a job costs in API requests and Redis round trips, what a
replica killed mid-wait costs in lag, and how soon a result published on one replica wakes the
waiter on another.

Needs the Redis server (``--redis-url``, default ``redis://127.0.0.1:6379/0``); every key
lives under a random prefix deleted afterwards. Each replica is a process of its own
(:mod:`tests.benchmarks._redis_replica`), so one can be killed with SIGKILL. The same kind of
jobs (the issue's log-normal workload, from the fake in a subprocess) are awaited, in one run:

* by one replica, then by ``--replicas`` replicas at once: requests per job at the fake (the
  poll lease should keep them equal), which replica polled how many jobs, and Redis commands
  per resolved job (counted client side; Lua scripts count once, as the round trip they are;
  connection set-up included);
* by ``--replicas`` replicas again, ``kill_after`` seconds after which the one holding the
  most leases is killed with SIGKILL: detection lag p95 (at the fake, first status answer
  showing the end minus the true end) with and without the kill, and commands per job (the
  killed one's as it last reported them, at most 0.1 s before it died);
* publish-to-wake latency: replica A publishes a terminal status while replica B awaits the
  key, one job at a time; p50/p99 over ``--latency-jobs`` jobs (in this process).
"""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import redis.asyncio

from fastwait import JobState, JobStatus, Registry
from fastwait.registry._redis import RedisResultStore

from ._harness import (
    API_KEY,
    FakeControl,
    ScenarioReport,
    StrategyFigures,
    Target,
    delete_keys,
    fake_server,
    format_figures,
    format_targets,
    percentile,
    ratio,
    source_environment,
    source_tree,
)

__all__ = ["RedisOptions", "run"]

_REPLICA = Path(__file__).with_name("_redis_replica.py")
_STARTUP_TIMEOUT = 30.0
_MAX_COMMANDS_ONE = 4.0
_MAX_COMMANDS_SHARED = 6.0
_MAX_EXTRA_LAG = 5.0
"""Seconds a killed replica may add to the p95 lag (its liveness lapses within 3 s, is noticed
within 1 s more, and the survivors then poll what it held)."""


@attrs.frozen
class RedisOptions:
    url: str = "redis://127.0.0.1:6379/0"
    jobs: int = 300
    replicas: int = 3
    latency_jobs: int = 1000
    kill_after: float = 1.5
    seed: int = 0
    baseline_source: str | None = None
    """A tree holding another fastwait whose replicas run the same scenarios (``today``)."""


@attrs.frozen
class _ReplicaRun:
    name: str
    replicas: int
    resolved: list[int]
    """Jobs each replica saw resolved (None for a killed one)."""
    polled: list[int]
    """Jobs each replica polled at least once."""
    commands: list[int]
    """Redis commands each replica sent (a killed one's as last reported)."""
    figures: StrategyFigures
    leases_at_kill: int = 0
    """Leases the killed replica held when it was killed."""

    @property
    def killed(self) -> bool:
        return self.leases_at_kill > 0 or -1 in self.resolved

    @property
    def commands_per_job(self) -> float:
        return sum(self.commands) / max(self.figures.jobs, 1)


async def _line(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any] | None:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    figures: dict[str, Any] | None = json.loads(line) if line.strip() else None
    return figures


class _Replica:
    """A replica process and what it reported on stdout."""

    def __init__(self, process: asyncio.subprocess.Process, replica_id: str) -> None:
        self.process = process
        self.replica_id = replica_id
        self.commands = 0
        self.final: dict[str, Any] | None = None

    @classmethod
    async def start(cls, argv: Sequence[str], source: Path | None) -> _Replica:
        """A replica importing fastwait from ``source`` (this tree if None)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(_REPLICA),
            *argv,
            cwd=_REPLICA.parent,
            env=source_environment(source),
            stdout=asyncio.subprocess.PIPE,
        )
        started = await _line(process, _STARTUP_TIMEOUT)
        if started is None or "replica" not in started:
            process.kill()
            await process.wait()
            raise RuntimeError(f"a replica did not start: {started!r}")
        return cls(process, str(started["replica"]))

    async def _line(self, timeout: float) -> dict[str, Any] | None:
        return await _line(self.process, timeout)

    async def finish(self) -> None:
        """Read its reports until it ends (or was killed)."""
        while (figures := await self._line(180)) is not None:
            self.commands = figures.get("commands", self.commands)
            if "resolved" in figures:
                self.final = figures
        await self.process.wait()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def _await_jobs(
    name: str,
    options: RedisOptions,
    fake_url: str,
    control: FakeControl,
    prefix: str,
    replicas: int,
    *,
    kill: bool = False,
    source: Path | None = None,
) -> _ReplicaRun:
    job_ids = await control.create("compress", options.jobs)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as ids_file:
        json.dump(job_ids, ids_file)
    argv = [options.url, prefix, fake_url, API_KEY, ids_file.name]
    started: list[_Replica] = []
    leases_at_kill = 0
    try:
        starting = (_Replica.start(argv, source) for _ in range(replicas))
        started = list(await asyncio.gather(*starting))
        finishing = [asyncio.create_task(r.finish()) for r in started]
        if kill:
            await asyncio.sleep(options.kill_after)
            held = await _leases_held(options.url, prefix, job_ids)
            doomed = max(started, key=lambda r: held[r.replica_id])
            doomed.kill()
            leases_at_kill = held[doomed.replica_id]
            started.remove(doomed)
            started.insert(0, doomed)
        await asyncio.gather(*finishing)
    finally:
        for replica in started:
            await replica.stop()
        Path(ids_file.name).unlink()
    rows = await control.jobs("compress")
    mine = [rows[job_id] for job_id in job_ids]
    survivors = [r for r in started if r.final is not None]
    if len(survivors) != replicas - kill:
        raise RuntimeError(f"{name}: {replicas - kill - len(survivors)} replica(s) failed")
    errors = sum(options.jobs - r.final["resolved"] for r in survivors if r.final)
    return _ReplicaRun(
        name=name,
        replicas=replicas,
        resolved=[r.final["resolved"] if r.final else -1 for r in started],
        polled=[r.final["polled"] if r.final else -1 for r in started],
        commands=[r.commands for r in started],
        figures=StrategyFigures.from_rows(name, mine, errors),
        leases_at_kill=leases_at_kill,
    )


async def _leases_held(url: str, prefix: str, job_ids: Sequence[str]) -> dict[str, int]:
    """How many of ``job_ids``' poll leases each replica holds right now."""
    admin = redis.asyncio.Redis.from_url(url)
    try:
        holders = await admin.mget([f"{prefix}lease:compress:{job_id}" for job_id in job_ids])
    finally:
        await admin.aclose()
    held: dict[str, int] = {}
    for holder in holders:
        if holder is not None:
            name = holder.decode() if isinstance(holder, bytes) else str(holder)
            held[name] = held.get(name, 0) + 1
    return collections.defaultdict(int, held)


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


def _per_replica(values: Sequence[int]) -> str:
    return " / ".join("killed" if v < 0 else str(v) for v in values)


async def run(options: RedisOptions) -> ScenarioReport:
    """Run the Redis scenario once and judge it."""
    prefix = f"fastwait-bench:{secrets.token_hex(6)}:"
    n = options.replicas
    today = source_tree(options.baseline_source)
    baseline: list[_ReplicaRun] = []
    try:
        with fake_server(options.seed) as fake_url:
            async with aiohttp.ClientSession() as session:
                control = FakeControl(session, fake_url)
                alone = await _await_jobs("1 replica", options, fake_url, control, prefix, 1)
                shared = await _await_jobs(f"{n} replicas", options, fake_url, control, prefix, n)
                killed = await _await_jobs(
                    f"{n}, 1 killed", options, fake_url, control, prefix, n, kill=True
                )
                if today is not None:
                    for name, count, kill in (
                        ("today 1", 1, False),
                        (f"today {n}", n, False),
                        (f"today {n} +kill", n, True),
                    ):
                        baseline.append(
                            await _await_jobs(
                                name,
                                options,
                                fake_url,
                                control,
                                prefix,
                                count,
                                kill=kill,
                                source=today,
                            )
                        )
        latencies = await _publish_to_wake(options, prefix)
    finally:
        await delete_keys(options.url, prefix)
    p50, p99 = (percentile(latencies, q) * 1000 for q in (0.50, 0.99))
    unresolved = sum(
        options.jobs - resolved
        for run_ in (alone, shared, killed)
        for resolved in run_.resolved
        if resolved >= 0
    )
    everything = [alone, shared, killed, *baseline]
    cost = ratio(shared.figures.requests_per_job, alone.figures.requests_per_job)
    extra_lag = killed.figures.lag_p95 - shared.figures.lag_p95
    # A job polled by k replicas counts k - 1: 0 when the lease gives each job one poller (a
    # unit test asserts that where no lease can lapse; here, under load, it may be a little).
    extra_pollers = (sum(shared.polled) - options.jobs) / max(options.jobs, 1)
    targets = (
        Target("job results missing on some replica", unresolved, 0),
        Target(f"requests per job, {n} replicas / 1 replica", cost, 1.3),
        Target(f"extra replicas polling a job, per job, {n} replicas", extra_pollers, 0.05),
        Target(
            "Redis commands per resolved job, 1 replica", alone.commands_per_job, _MAX_COMMANDS_ONE
        ),
        Target(
            f"Redis commands per resolved job, {n} replicas",
            shared.commands_per_job,
            _MAX_COMMANDS_SHARED,
        ),
        Target("extra p95 lag when a replica is killed, s", extra_lag, _MAX_EXTRA_LAG),
        Target("publish-to-wake p99 across replicas, ms", p99, 50.0),
    )
    lines = [
        f"== redis: {options.jobs} tools.fast jobs, 1 then {n} replicas, then {n} with one"
        f" SIGKILLed {options.kill_after:g} s in; {options.latency_jobs} publish-to-wake round"
        f" trips (seed {options.seed}) ==",
        format_figures([run_.figures for run_ in everything]),
    ]
    for run_ in everything:
        lines.append(
            f"{run_.name}: jobs resolved per replica {_per_replica(run_.resolved)},"
            f" polled {_per_replica(run_.polled)}; Redis commands"
            f" {' / '.join(map(str, run_.commands))}"
            f" = {run_.commands_per_job:.2f} per resolved job"
        )
    pairs = [(shared, killed), *([(baseline[1], baseline[2])] if baseline else [])]
    for without, with_kill in pairs:
        lines.append(
            f"{with_kill.name}: killing the replica that held {with_kill.leases_at_kill} of"
            f" {options.jobs} leases: p95 lag {with_kill.figures.lag_p95:.2f} s against"
            f" {without.figures.lag_p95:.2f} s without"
            f" (+{with_kill.figures.lag_p95 - without.figures.lag_p95:.2f} s); Redis commands per"
            f" job {with_kill.commands_per_job:.2f} against {without.commands_per_job:.2f}"
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
            "replicas": n,
            "seed": options.seed,
            "kill_after": options.kill_after,
            "runs": [
                {
                    "name": run_.name,
                    "replicas": run_.replicas,
                    "killed": run_.killed,
                    "leases_at_kill": run_.leases_at_kill,
                    "resolved": run_.resolved,
                    "polled": run_.polled,
                    "commands": run_.commands,
                    "commands_per_job": round(run_.commands_per_job, 3),
                    "server": run_.figures.as_json(),
                }
                for run_ in everything
            ],
            "publish_to_wake_ms": {"p50": round(p50, 3), "p99": round(p99, 3)},
        },
    )
