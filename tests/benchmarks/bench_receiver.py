"""Webhooks per second the receiver verifies and resolves, against the handler a user would
write by hand with the ``standardwebhooks`` package, and against a bare aiohttp handler.

The issue's targets: the receiver's rate at least 0.9 of the hand-written handler's (moonshot:
1.0), both measured in the same run with the same load generator, and webhook-to-waiter latency
p50/p99 on loopback. The hand-written handler verifies the signature (``standardwebhooks``
also decodes the JSON), then resolves the future its job's waiter awaits: no body limit, no
dedupe, no schema, no early arrivals. The bare one reads the body and answers 200: it shows what
aiohttp alone costs. On a shared two-core machine only ratios are meaningful, so the three
alternate in every round and each one's median is taken.

Every run starts a fresh :mod:`tests.benchmarks._receiver_server` subprocess, so the load
generator never shares the server's core (nor a registry grown by earlier runs). The webhooks
are signed before the clock starts: one per job, each with its own ``webhook-id``, job id and
a current timestamp; every handler gets byte-identical requests. ``wrk`` replays them (install
it first: ``apt-get install -y wrk``): one thread, keep-alive connections, each request sent
once. ``--receiver-generator aiohttp`` replays them from an aiohttp client in this process
instead, which saturates before the bare server does and so flatters the slower handlers; the
report says which one ran and how busy each side was. Rates come from the server's own
bookkeeping: completions (waiters woken, or bare requests handled) between the first and the
last.

Latency is measured apart, by a server whose middleware notes each request's ``X-Sent-At``
(the generator's ``time.time()`` when it wrote the request) so a waiter can subtract it when
it wakes: with one connection (the handler's own cost), with a few (the generator keeps them
busy, so the server is too, but queues stay short) and at the throughput runs' concurrency,
where queueing dominates; for the receiver and the hand-written handler alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import aiohttp
import attrs

from fastwait.webhooks import StandardWebhookSigner

from ._harness import (
    ScenarioReport,
    Target,
    percentile,
    read_line,
    running_process,
    source_environment,
    source_tree,
)
from ._receiver_server import HOOK_PATH, SECRET, message_id

__all__ = ["ReceiverOptions", "RunFigures", "run"]

_SERVER = Path(__file__).with_name("_receiver_server.py")
# The seed document's succeeded compress status, looked up at run time: a static import would
# make mypy meet tests/seed_payloads.py under two names (pytest imports it as seed_payloads).
_STATUS: Final[Mapping[str, Any]] = importlib.import_module(
    "tests.seed_payloads"
).TF_COMPRESS_STATUS
_STARTUP_TIMEOUT = 30.0
_POLL_SECONDS = 0.02
_ARM_BATCH = 10_000  # job ids per arming request, well under aiohttp's 1 MiB body limit
_MODES: Final = ("bare", "handwritten", "receiver")
_MOONSHOT: Final = 1.2
_TODAY: Final = "today's receiver"
_BUSY_SERVER = 0.85
"""A bare server busy less than this share of a core is not the bottleneck: the generator is."""

# Replays pre-signed webhooks, each once. wrk calls request() once before the run to check
# the request (and never sends that one), so the first call does not advance. When every
# request is out, a connection gets an empty one: it writes nothing and waits idle until the
# driver, seeing all completions in the server, stops wrk.
_WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } fastwait_timespec;
int clock_gettime(int clock_id, fastwait_timespec *tp);
]]
local clock = ffi.new("fastwait_timespec")
local heads, tails, whole = {}, {}, {}
local count, sent, stamp, checked = 0, 0, false, false

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  stamp = args[2] == "1"
  local pos = 1
  while pos <= #data do
    local eol = data:find("\n", pos, true)
    local head, tail = data:sub(pos, eol - 1):match("^(%d+) (%d+)$")
    head, tail = tonumber(head), tonumber(tail)
    count = count + 1
    heads[count] = data:sub(eol + 1, eol + head)
    tails[count] = data:sub(eol + head + 1, eol + head + tail)
    whole[count] = heads[count] .. tails[count]
    pos = eol + head + tail + 1
  end
end

local function render(i)
  if not stamp then return whole[i] end
  ffi.C.clock_gettime(0, clock) -- CLOCK_REALTIME, the server's time.time()
  local at = tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
  return heads[i] .. string.format("X-Sent-At: %.6f\r\n", at) .. tails[i]
end

function request()
  if not checked then
    checked = true
    return whole[1]
  end
  if sent >= count then return "" end
  sent = sent + 1
  return render(sent)
end
"""


@attrs.frozen
class ReceiverOptions:
    """``generator`` is ``"wrk"`` (installed with ``apt-get install -y wrk``) or ``"aiohttp"``."""

    jobs: int = 20_000
    connections: int = 64
    runs: int = 3
    latency_jobs: int = 2_000
    latency_connections: int = 8
    min_ratio: float = 1.0
    """Least receiver rate (with the speed extra, on asyncio's loop like the hand-written
    handler), as a share of the hand-written handler's (the moonshot is 1.2)."""
    seed: int = 0
    generator: str = "wrk"
    stall_seconds: float = 20.0
    """A run with no new completion for this long is abandoned (a refused webhook, say)."""
    baseline_source: str | None = None
    """A tree holding another fastwait whose receiver also runs in every round (``today``)."""


@attrs.frozen
class _Delivery:
    job_id: str
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen
class _Load:
    """What the generator itself saw: its CPU seconds, its wall seconds, failed requests."""

    cpu_seconds: float
    wall_seconds: float
    failures: int


@attrs.frozen
class RunFigures:
    """One run, from the server's bookkeeping except ``generator_cpu``."""

    name: str
    jobs: int
    connections: int
    rate: float
    """Completions per second between the first and the last completion."""
    server_cpu: float
    """Share of one core the server used over the same interval."""
    generator_cpu: float
    latencies: tuple[float, ...] = ()
    """Webhook-to-waiter seconds (stamped runs only)."""

    def as_json(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "name": self.name,
            "jobs": self.jobs,
            "connections": self.connections,
            "rate": round(self.rate, 1),
            "server_cpu": round(self.server_cpu, 3),
            "generator_cpu": round(self.generator_cpu, 3),
        }
        if self.latencies:
            figures["latency_p50_ms"] = round(percentile(self.latencies, 0.50) * 1000, 3)
            figures["latency_p99_ms"] = round(percentile(self.latencies, 0.99) * 1000, 3)
        return figures


@attrs.frozen
class _AtLeast(Target):
    """A target the measure must reach (the harness's :class:`Target` is an upper limit)."""

    @property
    def passed(self) -> bool:
        return self.measured >= self.limit


# --- webhooks -----------------------------------------------------------------------------


def _job_ids(count: int, rng: random.Random, serials: Iterator[int]) -> list[str]:
    """GUIDv7-looking ids (version 7, variant 10xx), unique through the serial in the tail."""
    millis = math.floor(time.time() * 1000)
    return [
        f"{millis:012x}7{rng.getrandbits(12):03x}{rng.choice('89ab')}{next(serials):015x}"
        for _ in range(count)
    ]


def _sign(job_ids: Sequence[str]) -> list[_Delivery]:
    """One signed completion per job, with a timestamp of now (well within the tolerance)."""
    signer = StandardWebhookSigner(SECRET)
    timestamp = math.floor(time.time())
    deliveries = []
    for job_id in job_ids:
        body = json.dumps({**_STATUS, "id": job_id}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        headers |= signer.headers(message_id(job_id), body, timestamp)
        deliveries.append(_Delivery(job_id, headers, body))
    return deliveries


def _wrk_requests(url: str, deliveries: Sequence[_Delivery]) -> bytes:
    """The script's input: per request ``"<head> <tail>\\n"`` lengths, the head, the tail.

    The head ends after the last header line, so a stamp can be put between head and tail.
    """
    host = url.removeprefix("http://")
    records = []
    for delivery in deliveries:
        lines = [f"POST {HOOK_PATH} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in delivery.headers.items()]
        lines.append(f"Content-Length: {len(delivery.body)}")
        head = ("\r\n".join(lines) + "\r\n").encode("ascii")
        tail = b"\r\n" + delivery.body
        records.append(f"{len(head)} {len(tail)}\n".encode("ascii") + head + tail)
    return b"".join(records)


# --- the server ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _server(
    mode: str, *, stamp: bool, source: Path | None = None, environment: Mapping[str, str] = {}
) -> AsyncIterator[str]:
    """A fresh server process; ``source`` holds the fastwait it imports (this tree if None)."""
    argv = [sys.executable, str(_SERVER), mode]
    if stamp:
        argv.append("--stamp")
    env = {**source_environment(source), **environment}
    with running_process(argv, cwd=_SERVER.parent, env=env) as process:
        yield await asyncio.to_thread(read_line, process, _STARTUP_TIMEOUT)


async def _completed(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(f"{url}/_bench/stats") as response:
        response.raise_for_status()
        stats: dict[str, float] = await response.json()
    return stats


async def _until_completed(
    session: aiohttp.ClientSession, url: str, stall_seconds: float, alive: Callable[[], bool]
) -> dict[str, float]:
    """The server's stats once every armed job completed; RuntimeError if progress stops."""
    last_count, last_progress = -1.0, time.monotonic()
    while True:
        stats = await _completed(session, url)
        if stats["completed"] >= stats["expected"]:
            return stats
        if stats["completed"] != last_count:
            last_count, last_progress = stats["completed"], time.monotonic()
        elif time.monotonic() - last_progress > stall_seconds or not alive():
            raise RuntimeError(
                f"{stats['completed']:.0f} of {stats['expected']:.0f} completions, then none"
                f" for {stall_seconds:g} s (generator alive: {alive()}; a refused webhook never"
                " wakes its waiter)"
            )
        await asyncio.sleep(_POLL_SECONDS)


# --- generators ---------------------------------------------------------------------------

_Generate = Callable[
    [aiohttp.ClientSession, str, Sequence[_Delivery], int, bool, float],
    Awaitable[tuple[_Load, dict[str, float]]],
]


def _cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk_failures(output: str) -> int:
    failures = 0
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Non-2xx or 3xx responses:"):
            failures += int(line.rpartition(":")[2])
        elif line.startswith("Socket errors:"):
            failures += sum(int(part.split()[-1]) for part in line.partition(":")[2].split(","))
    return failures


async def _wrk(
    session: aiohttp.ClientSession,
    url: str,
    deliveries: Sequence[_Delivery],
    connections: int,
    stamp: bool,
    stall_seconds: float,
) -> tuple[_Load, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="fastwait-bench-") as folder:
        requests, script = Path(folder, "requests"), Path(folder, "replay.lua")
        requests.write_bytes(_wrk_requests(url, deliveries))
        script.write_text(_WRK_SCRIPT)
        argv = ["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "60s"]
        argv += ["-s", str(script), f"{url}/", "--", str(requests), "1" if stamp else "0"]
        with running_process(argv) as process:
            started = time.perf_counter()
            stats = await _until_completed(
                session, url, stall_seconds, lambda: process.poll() is None
            )
            load_cpu, load_wall = _cpu_seconds_of(process.pid), time.perf_counter() - started
            process.send_signal(signal.SIGINT)  # wrk prints its summary and exits
            output, _ = await asyncio.to_thread(process.communicate, timeout=10)
    return _Load(load_cpu, load_wall, _wrk_failures(output)), stats


async def _aiohttp(
    session: aiohttp.ClientSession,
    url: str,
    deliveries: Sequence[_Delivery],
    connections: int,
    stamp: bool,
    stall_seconds: float,
) -> tuple[_Load, dict[str, float]]:
    pending = iter(deliveries)
    failures = 0
    connector = aiohttp.TCPConnector(limit=connections)

    async def send(client: aiohttp.ClientSession) -> None:
        nonlocal failures
        for delivery in pending:  # shared by every sender: each delivery goes out once
            headers = dict(delivery.headers)
            if stamp:
                headers["X-Sent-At"] = f"{time.time():.6f}"
            async with client.post(url + HOOK_PATH, data=delivery.body, headers=headers) as r:
                await r.read()
                failures += r.status != 200

    async with aiohttp.ClientSession(connector=connector) as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(send(client) for _ in range(connections)))
        cpu, wall = time.process_time() - cpu_started, time.perf_counter() - started
    stats = await _until_completed(session, url, stall_seconds, lambda: True)
    return _Load(cpu, wall, failures), stats


def _generator(name: str) -> tuple[str, _Generate]:
    if name == "wrk":
        if shutil.which("wrk") is None:
            raise RuntimeError(
                "the receiver benchmark replays webhooks with wrk: install it (apt-get install -y"
                " wrk), or pass --receiver-generator aiohttp for a generator that flatters"
            )
        return "wrk (1 thread, Lua replay)", _wrk
    if name == "aiohttp":
        return "aiohttp client in the driver process", _aiohttp
    raise ValueError(f"unknown generator {name!r}")


# --- runs ---------------------------------------------------------------------------------


async def _one_run(
    name: str,
    mode: str,
    deliveries: Sequence[_Delivery],
    connections: int,
    generate: _Generate,
    options: ReceiverOptions,
    *,
    stamp: bool = False,
    source: Path | None = None,
    environment: Mapping[str, str] = {},
) -> RunFigures:
    server = _server(mode, stamp=stamp, source=source, environment=environment)
    async with server as url, aiohttp.ClientSession() as session:
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


def _round_ratios(
    runs: Sequence[RunFigures], name: str, baseline: str, *, cpu: bool = False
) -> list[float]:
    """``name``'s rate over ``baseline``'s, round by round (the same deliveries, minutes apart
    at most); with ``cpu``, per second of the server's CPU rather than of wall time."""
    rate = {f.name: f.rate / f.server_cpu if cpu else f.rate for f in runs}
    rounds = sorted(int(key.rsplit("#", 1)[1]) for key in rate if key.startswith(f"{name} #"))
    return [rate[f"{name} #{n}"] / rate[f"{baseline} #{n}"] for n in rounds]


def cpu_per_request(figures: RunFigures) -> float:
    """The server's CPU microseconds per completion: steadier than rates when the machine is
    shared, since time the server spends descheduled is not counted."""
    return figures.server_cpu / figures.rate * 1e6


def table_row(figures: RunFigures, *, with_cpu_per_request: bool = False) -> str:
    """One run's line of a throughput table (``us/req`` after ``server`` when asked for)."""
    per_request = f"{cpu_per_request(figures):>8.0f}" if with_cpu_per_request else ""
    line = (
        f"{figures.name:<34}{figures.jobs:>7}{figures.connections:>6}{figures.rate:>10.0f}"
        f"{figures.server_cpu:>9.0%}{per_request}{figures.generator_cpu:>9.0%}"
    )
    if figures.latencies:
        p50, p99 = (percentile(figures.latencies, q) * 1000 for q in (0.50, 0.99))
        line += f"{p50:>10.2f}{p99:>10.2f}"
    return line


def _text(
    options: ReceiverOptions,
    generator: str,
    runs: Sequence[RunFigures],
    rates: Mapping[str, float],
    target: Target,
) -> str:
    header = (
        f"{'run':<34}{'jobs':>7}{'conns':>6}{'req/s':>10}{'server':>9}{'generator':>10}"
        f"{'p50 ms':>10}{'p99 ms':>10}"
    )
    bare, handwritten, received = rates["bare"], rates["handwritten"], rates["receiver"]
    lines = [
        f"== receiver: signed tools.fast completions, {options.jobs} per throughput run,"
        f" {options.connections} connections; generator: {generator} ==",
        header,
        *(table_row(figures) for figures in runs),
        "req/s: completions per second, counted by the server; server, generator: share of a"
        " core;\np50, p99: from the webhook's sending to its waiter's waking",
        f"median rate: bare {bare:.0f} req/s, hand-written standardwebhooks {handwritten:.0f}"
        f" req/s, receiver {received:.0f} req/s",
        f"  receiver / bare {received / bare:.2f}; hand-written / bare {handwritten / bare:.2f}",
        *(
            [
                f"  today's receiver {rates[_TODAY]:.0f} req/s:"
                f" {rates[_TODAY] / handwritten:.2f} of the hand-written handler"
            ]
            if _TODAY in rates
            else []
        ),
        f"  receiver without the speed extra {rates[_RECEIVER_PLAIN]:.0f} req/s:"
        f" {rates[_RECEIVER_PLAIN] / handwritten:.2f} of the hand-written handler",
        f"  on uvloop: receiver with the extra {rates[_RECEIVER_UVLOOP]:.0f} req/s, hand-written"
        f" {rates[_HANDWRITTEN_UVLOOP]:.0f} req/s:"
        f" {rates[_RECEIVER_UVLOOP] / rates[_HANDWRITTEN_UVLOOP]:.2f}",
        "  per-round ratios receiver / hand-written: "
        + ", ".join(f"{r:.3f}" for r in _round_ratios(runs, "receiver", "handwritten")),
        "  per second of server CPU (a server starved by a shared machine shows in req/s, not"
        " here), receiver / hand-written, by round: "
        + ", ".join(f"{r:.3f}" for r in _round_ratios(runs, "receiver", "handwritten", cpu=True))
        + "; without the extra: "
        + ", ".join(
            f"{r:.3f}" for r in _round_ratios(runs, _RECEIVER_PLAIN, "handwritten", cpu=True)
        )
        + "; on uvloop: "
        + ", ".join(
            f"{r:.3f}" for r in _round_ratios(runs, _RECEIVER_UVLOOP, _HANDWRITTEN_UVLOOP, cpu=True)
        ),
        f"  {'PASS' if target.passed else 'FAIL'}  {target.description}:"
        f" {target.measured:.2f} (at least {target.limit:.2f}; moonshot {_MOONSHOT:.2f}"
        f" {'reached' if target.measured >= _MOONSHOT else 'not reached'})",
    ]
    bare_cpu = statistics.median(f.server_cpu for f in runs if f.name.startswith("bare"))
    if bare_cpu < _BUSY_SERVER:
        lines.append(
            f"  NOTE  the bare server used only {bare_cpu:.0%} of a core: the generator (or the"
            " machine)\n        limits the bare rate, so the ratios to it flatter the others"
        )
    return "\n".join(lines)


@attrs.frozen
class _Server:
    """One contestant of the throughput rounds: a mode, a fastwait tree, an environment."""

    name: str
    mode: str
    source: Path | None = None
    environment: Mapping[str, str] = attrs.field(factory=dict)


_PLAIN: Final = {"FASTWAIT_NO_SPEEDUPS": "1"}
_UVLOOP: Final = {"FASTWAIT_BENCH_LOOP": "uvloop"}
_RECEIVER_PLAIN: Final = "receiver, no extra"
_HANDWRITTEN_UVLOOP: Final = "handwritten, uvloop"
_RECEIVER_UVLOOP: Final = "receiver, extra + uvloop"


def _contestants(today: Path | None) -> list[_Server]:
    """Bare, hand-written, the receiver with the speed extra (orjson; asyncio's loop, as the
    hand-written one) and without it, today's, and the last two pair on uvloop."""
    servers = [
        _Server("bare", "bare", environment=_PLAIN),
        _Server("handwritten", "handwritten", environment=_PLAIN),
        _Server("receiver", "receiver"),
        _Server(_RECEIVER_PLAIN, "receiver", environment=_PLAIN),
        _Server(_HANDWRITTEN_UVLOOP, "handwritten", environment=_UVLOOP),
        _Server(_RECEIVER_UVLOOP, "receiver", environment=_UVLOOP),
    ]
    if today is not None:
        servers.append(_Server(_TODAY, "receiver", source=today, environment=_PLAIN))
    return servers


async def run(options: ReceiverOptions) -> ScenarioReport:
    """Alternate every contestant's throughput runs (rotated each round), then latency runs;
    judge."""
    generator, generate = _generator(options.generator)
    today = source_tree(options.baseline_source)
    rng, serials = random.Random(options.seed), itertools.count()
    runs: list[RunFigures] = []
    contestants = _contestants(today)
    for round_ in range(1, options.runs + 1):
        # Signed once per round; every handler is sent the very same bytes.
        deliveries = _sign(_job_ids(options.jobs, rng, serials))
        shift = (round_ - 1) % len(contestants)
        for server in [*contestants[shift:], *contestants[:shift]]:
            figures = await _one_run(
                f"{server.name} #{round_}",
                server.mode,
                deliveries,
                options.connections,
                generate,
                options,
                source=server.source,
                environment=server.environment,
            )
            runs.append(figures)
            print(f"  {table_row(figures)}", flush=True)
    for mode in ("handwritten", "receiver"):
        for name, jobs, connections in (
            ("latency, one at a time", options.latency_jobs // 2, 1),
            ("latency, moderate", options.latency_jobs, options.latency_connections),
            ("latency, saturated", options.jobs // 2, options.connections),
        ):
            deliveries = _sign(_job_ids(jobs, rng, serials))
            figures = await _one_run(
                f"{mode} {name}", mode, deliveries, connections, generate, options, stamp=True
            )
            runs.append(figures)
    names = [server.name for server in contestants]
    rates = {
        name: statistics.median(f.rate for f in runs if f.name.startswith(f"{name} #"))
        for name in names
    }
    ratio_ = rates["receiver"] / rates["handwritten"]
    target = _AtLeast("receiver rate / hand-written handler rate", ratio_, options.min_ratio)
    return ScenarioReport(
        "receiver",
        _text(options, generator, runs, rates, target),
        (target,),
        {
            "generator": generator,
            "jobs": options.jobs,
            "connections": options.connections,
            "bare_rate": round(rates["bare"], 1),
            "handwritten_rate": round(rates["handwritten"], 1),
            "receiver_rate": round(rates["receiver"], 1),
            "ratio": round(ratio_, 3),
            "ratio_to_bare": round(rates["receiver"] / rates["bare"], 3),
            "rates": {mode: round(rate, 1) for mode, rate in rates.items()},
            "runs": [figures.as_json() for figures in runs],
        },
    )
