"""Soak: thousands of jobs through faults in every layer, and not one lost or misreported.

``--soak-jobs`` tools.fast jobs (the benchmarks' log-normal workload, 5 % of them failing) are
awaited by ``--replicas`` replicas sharing Redis, each a process of its own that awaits every
job, while:

* the fake answers 10 % of job requests 503, 5 % 429 (``Retry-After: 1``) and closes 5 % of
  connections unanswered (resets);
* every few seconds Redis drops every connection of every live replica (``CLIENT KILL``,
  command and pub/sub connections alike; only this run's replicas, by client name);
* one replica is SIGKILLed mid-run and started again a few seconds later.

Judged by the fake's own bookkeeping: every replica that ran to its end (the restarted one
included) must report every job, each with the state the fake gave it, and no replica may
report a wrong state, the killed one included. The baseline, measured first in the same run
on the same job model: the same replicas on as many jobs without any fault, so the cost of
the faults in requests and detection lag shows next to it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import redis.asyncio

from ._harness import (
    FakeControl,
    JobRow,
    ScenarioReport,
    StrategyFigures,
    Target,
    delete_keys,
    fake_server,
    format_figures,
    format_targets,
)

__all__ = ["SoakOptions", "run"]

FAULT_FLAGS = ("--error-rate", "0.10", "--rate-limit-rate", "0.05", "--drop-rate", "0.05")
"""10 % 5xx, 5 % 429, 5 % resets, on every request that names a job."""


@attrs.frozen
class SoakOptions:
    url: str = "redis://127.0.0.1:6379/0"
    jobs: int = 5000
    baseline_jobs: int | None = None
    """Jobs of the fault-free baseline (default: as many as the soak, for like-for-like lag)."""
    replicas: int = 3
    drop_every: float = 3.0
    """Seconds between two drops of every replica's Redis connections."""
    kill_at: float = 8.0
    """Seconds into the run at which the first replica is SIGKILLed."""
    restart_after: float = 4.0
    timeout: float = 600.0
    """Per-job deadline of each replica: a job not reported by then counts as lost."""
    seed: int = 0


class _Replica:
    """One replica process and what it reported: job id -> (state or None, error or None)."""

    def __init__(self, process: asyncio.subprocess.Process, replica_id: str, log: Path) -> None:
        self.process = process
        self.replica_id = replica_id
        self.log = log
        """Where the replica's stderr went: what a person running it would have read."""
        self.reports: dict[str, tuple[str | None, str | None]] = {}
        self.duplicates = 0

    @classmethod
    async def start(cls, fake_url: str, options: SoakOptions, prefix: str, ids: Path) -> _Replica:
        log = ids.with_name(f"replica-{secrets.token_hex(4)}.log")
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.benchmarks._soak_replica",
                fake_url, options.url, prefix, str(ids), str(options.timeout),
                stdout=asyncio.subprocess.PIPE, stderr=stderr, limit=1 << 20,
            )  # fmt: skip
        assert process.stdout is not None
        async with asyncio.timeout(60):
            first = await process.stdout.readline()
        if not first:
            raise RuntimeError(
                f"a soak replica ended at start (exit code {process.returncode}):"
                f" {log.read_text()[-2000:]}"
            )
        return cls(process, json.loads(first)["replica"], log)

    def said(self) -> int:
        """Lines the replica wrote on stderr."""
        return len(self.log.read_text().splitlines())

    async def read_all(self) -> None:
        """Record every line until the process ends (or is killed)."""
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            if not line.endswith(b"\n"):
                break  # cut by a kill
            report = json.loads(line)
            if report["id"] in self.reports:
                self.duplicates += 1
            self.reports[report["id"]] = (report["state"], report["error"])
        await self.process.wait()

    def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


@attrs.frozen
class _Batch:
    """One batch's outcome: the fake's rows and every replica's reports."""

    name: str
    rows: dict[str, JobRow]
    finishing: list[_Replica]
    """Replicas that ran to their end (their reports must be complete)."""
    killed: list[_Replica]
    drops: int
    """Redis connections dropped."""
    seconds: float
    said: list[int]
    """Lines on stderr of each replica that ran to its end."""
    tracebacks: int
    """Tracebacks on any replica's stderr."""

    def expected(self, job_id: str) -> str:
        return self.rows[job_id].final_state.upper()

    @property
    def lost(self) -> int:
        """(replica, job) pairs where a replica that ran to its end reported no state."""
        return sum(
            1
            for replica in self.finishing
            for job_id in self.rows
            if replica.reports.get(job_id, (None, None))[0] is None
        )

    @property
    def wrong(self) -> int:
        """Reports, by any replica, of a state other than the fake's."""
        return sum(
            1
            for replica in (*self.finishing, *self.killed)
            for job_id, (state, _) in replica.reports.items()
            if state is not None and state != self.expected(job_id)
        )

    @property
    def late(self) -> int:
        """Jobs first seen ended more than 10 s after they ended (a dead replica's, mostly)."""
        return sum(1 for row in self.rows.values() if row.lag > 10.0)

    @property
    def errors(self) -> list[str]:
        return [
            f"{job_id}: {error}"
            for replica in self.finishing
            for job_id, (_, error) in replica.reports.items()
            if error is not None
        ]

    def figures(self) -> StrategyFigures:
        return StrategyFigures.from_rows(self.name, list(self.rows.values()), len(self.errors))


async def _drop_connections(admin: Any, replicas: Sequence[_Replica]) -> int:
    names = {f"fastwait-{replica.replica_id}" for replica in replicas}
    dropped = 0
    for client in await admin.client_list():
        if client.get("name") in names:
            dropped += await admin.client_kill_filter(_id=client["id"])
    return dropped


async def _batch(
    name: str,
    options: SoakOptions,
    fake_url: str,
    prefix: str,
    jobs: int,
    *,
    chaos: bool,
) -> _Batch:
    async with aiohttp.ClientSession() as session:
        control = FakeControl(session, fake_url)
        ids = await control.create("compress", jobs)
        admin = redis.asyncio.Redis.from_url(options.url)
        with tempfile.TemporaryDirectory() as folder:
            ids_file = Path(folder) / "ids.txt"
            ids_file.write_text("\n".join(ids))
            started = time.perf_counter()

            def start() -> Awaitable[_Replica]:
                return _Replica.start(fake_url, options, prefix, ids_file)

            live = list(await asyncio.gather(*(start() for _ in range(options.replicas))))
            readers = {replica: asyncio.create_task(replica.read_all()) for replica in live}
            killed: list[_Replica] = []
            drops = 0
            try:
                if chaos:
                    drops, killed = await _chaos(options, admin, live, readers, start)
                async with asyncio.timeout(options.timeout + 120):
                    await asyncio.gather(*(readers[replica] for replica in live))
            finally:
                for replica in (*live, *killed):
                    replica.stop()
                await asyncio.gather(*readers.values(), return_exceptions=True)
                await admin.aclose()
            seconds = time.perf_counter() - started
            said = [replica.said() for replica in live]
            tracebacks = sum(
                replica.log.read_text().count("Traceback") for replica in (*live, *killed)
            )
        rows = await control.jobs("compress")
    return _Batch(
        name=name,
        rows={job_id: rows[job_id] for job_id in ids},
        finishing=live,
        killed=killed,
        drops=drops,
        seconds=seconds,
        said=said,
        tracebacks=tracebacks,
    )


async def _chaos(
    options: SoakOptions,
    admin: Any,
    live: list[_Replica],
    readers: dict[_Replica, asyncio.Task[None]],
    start: Callable[[], Awaitable[_Replica]],
) -> tuple[int, list[_Replica]]:
    """Drop connections every ``drop_every`` s, kill and restart a replica; runs until every
    live replica has ended. ``live`` and ``readers`` are updated in place."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    next_drop = began + options.drop_every
    killed: list[_Replica] = []
    drops = 0
    while not all(readers[replica].done() for replica in live):
        now = loop.time()
        if now >= next_drop:
            drops += await _drop_connections(admin, live)
            next_drop += options.drop_every
        if not killed and now - began >= options.kill_at:
            victim = live.pop(0)
            victim.stop()
            await readers[victim]
            killed.append(victim)
        elif (
            killed
            and len(live) < options.replicas
            and now - began >= options.kill_at + options.restart_after
        ):
            replica = await start()
            live.append(replica)
            readers[replica] = asyncio.create_task(replica.read_all())
        await asyncio.sleep(0.25)
    return drops, killed


def _describe(batch: _Batch) -> str:
    reported = " / ".join(str(len(replica.reports)) for replica in batch.finishing)
    killed = " / ".join(str(len(replica.reports)) for replica in batch.killed) or "-"
    return (
        f"{batch.name}: {batch.seconds:.0f} s; jobs reported per replica that ran to its end"
        f" {reported}; by the killed replica before its death {killed};"
        f" Redis connections dropped {batch.drops}; lost {batch.lost}, wrong state"
        f" {batch.wrong}, timed out or errors {len(batch.errors)}; detected over 10 s late"
        f" {batch.late}; stderr lines per replica"
        f" {' / '.join(map(str, batch.said))}, tracebacks {batch.tracebacks}"
    )


async def run(options: SoakOptions) -> ScenarioReport:
    """Run the fault-free baseline, then the soak, and judge them."""
    prefix = f"fastwait-soak:{secrets.token_hex(6)}:"
    baseline_jobs = options.jobs if options.baseline_jobs is None else options.baseline_jobs
    try:
        with fake_server(options.seed) as fake_url:
            baseline = await _batch(
                "fault-free", options, fake_url, prefix, baseline_jobs, chaos=False
            )
        with fake_server(options.seed, FAULT_FLAGS) as fake_url:  # the same durations
            soak = await _batch("soak", options, fake_url, prefix, options.jobs, chaos=True)
    finally:
        await delete_keys(options.url, prefix)
    figures = [baseline.figures(), soak.figures()]
    targets = (
        Target("jobs lost (replica x job, soak)", soak.lost, 0),
        Target("jobs reported with a wrong state (soak)", soak.wrong, 0),
        Target("jobs timed out or failed with an error (soak)", len(soak.errors), 0),
        Target("jobs lost or wrong (baseline)", baseline.lost + baseline.wrong, 0),
        Target("tracebacks on any replica's stderr", soak.tracebacks + baseline.tracebacks, 0),
        Target("chaos missing: no Redis connection was dropped", soak.drops == 0, 0),
        Target("chaos missing: no replica was killed", not soak.killed, 0),
    )
    lines = [
        f"== soak: {options.jobs} tools.fast jobs, {options.replicas} replicas sharing Redis,"
        f" 10 % 503 / 5 % 429 / 5 % resets, Redis connections dropped every"
        f" {options.drop_every:g} s, replica 1 SIGKILLed at {options.kill_at:g} s and restarted"
        f" {options.restart_after:g} s later; baseline: {baseline_jobs} jobs without"
        f" faults (seed {options.seed}) ==",
        format_figures(figures),
        _describe(baseline),
        _describe(soak),
        *[f"  {error}" for error in soak.errors[:5]],
        format_targets(targets),
    ]
    return ScenarioReport(
        "soak",
        "\n".join(lines),
        targets,
        {
            "jobs": options.jobs,
            "baseline_jobs": baseline_jobs,
            "replicas": options.replicas,
            "seed": options.seed,
            "batches": [
                {
                    "name": batch.name,
                    "seconds": round(batch.seconds, 1),
                    "lost": batch.lost,
                    "wrong": batch.wrong,
                    "errors": len(batch.errors),
                    "drops": batch.drops,
                    "late_over_10s": batch.late,
                    "stderr_lines": batch.said,
                    "tracebacks": batch.tracebacks,
                    "reported": [len(r.reports) for r in batch.finishing],
                    "killed_reported": [len(r.reports) for r in batch.killed],
                    "server": batch.figures().as_json(),
                }
                for batch in (baseline, soak)
            ],
        },
    )
