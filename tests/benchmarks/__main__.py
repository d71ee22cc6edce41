"""``python -m tests.benchmarks [polling|scale|receiver|asgi|events|learning|redis|soak|all]``:
figures; exit 1 on a miss.

Every fake or client subprocess is terminated on the way out, including on Ctrl-C and
SIGTERM (turned into ``SystemExit`` so that the ``finally`` blocks run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

import attrs

from fastwait import PollPolicy

from . import (
    bench_asgi,
    bench_events,
    bench_learning,
    bench_polling,
    bench_receiver,
    bench_scale,
)
from ._harness import ScenarioReport

__all__ = ["main"]


def _override(text: str) -> tuple[str, float]:
    name, equals, value = text.partition("=")
    if not equals or name not in attrs.fields_dict(PollPolicy):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a PollPolicy field: {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="fastwait's poller against hand-written polling loops, on the fake provider.",
    )
    add = parser.add_argument
    add(
        "which",
        nargs="?",
        choices=(
            "polling",
            "scale",
            "receiver",
            "asgi",
            "events",
            "learning",
            "redis",
            "soak",
            "all",
        ),
        default="all",
    )
    add("--json", metavar="PATH", help="also write the figures to PATH")
    add("--jobs", type=int, default=300, help="jobs per strategy in polling (default 300)")
    add("--scale-jobs", type=int, default=100_000, help="jobs in scale (default 100000)")
    add(
        "--baseline-source",
        metavar="DIR",
        help="a tree holding another fastwait to measure alongside in scale, receiver and redis"
        " (e.g. mkdir DIR && git archive fe6e460 | tar -x -C DIR)",
    )
    add("--rounds", type=int, default=3, help="alternated rounds in scale and receiver (3)")
    add("--lag-jobs", type=int, default=30_000, help="jobs in scale's lag run (default 30000)")
    add("--max-connections", type=int, default=32, help="Client max_connections in scale (32)")
    add("--soak-jobs", type=int, default=5000, help="jobs in soak (default 5000)")
    add("--learning-jobs", type=int, default=200, help="jobs per batch in learning (200)")
    add("--seed", type=int, default=None, help="durations and fates (default: random)")
    add(
        "--policy",
        type=_override,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="PollPolicy override for fastwait (repeatable), to experiment",
    )
    add("--sequential", action="store_true", help="run polling strategies one at a time")
    add(
        "--random-durations",
        action="store_true",
        help="draw polling durations at random instead of the distribution's quantiles",
    )
    add("--detail", action="store_true", help="always print the per-duration breakdown")
    add(
        "--receiver-generator",
        choices=("wrk", "aiohttp"),
        default="wrk",
        help="load generator of the receiver and asgi scenarios (wrk: apt-get install -y wrk)",
    )
    add(
        "--models",
        default="",
        metavar="NAMES",
        help="polling job models to run, comma-separated (default: all; see bench_polling)",
    )
    add("--plot", metavar="PNG", help="polling: draw requests/job against p95 lag (bench extra)")
    return parser


async def _run(args: argparse.Namespace, seed: int) -> list[ScenarioReport]:
    overrides = dict(args.policy)
    reports: list[ScenarioReport] = []
    if args.which in ("polling", "all"):
        options = bench_polling.PollingOptions(
            jobs=args.jobs,
            seed=seed,
            policy=PollPolicy(**overrides),
            sequential=args.sequential,
            detail=args.detail,
            random_durations=args.random_durations,
            models=tuple(name for name in args.models.split(",") if name),
            plot=args.plot,
        )
        reports += await bench_polling.run(options)  # printed model by model as they finish
    if args.which in ("scale", "all"):
        report = await bench_scale.run(
            bench_scale.ScaleOptions(
                jobs=args.scale_jobs,
                max_connections=args.max_connections,
                seed=seed + 2,
                policy_overrides=overrides,
                baseline_source=args.baseline_source,
                rounds=args.rounds,
                lag_jobs=args.lag_jobs,
            )
        )
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which in ("receiver", "all"):
        receiver = bench_receiver.ReceiverOptions(
            seed=seed + 3,
            generator=args.receiver_generator,
            baseline_source=args.baseline_source,
            runs=args.rounds,
        )
        report = await bench_receiver.run(receiver)
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which in ("asgi", "all"):
        report = await bench_asgi.run(
            bench_asgi.AsgiOptions(seed=seed + 6, generator=args.receiver_generator)
        )
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which in ("events", "all"):
        report = await bench_events.run(bench_events.EventsOptions())
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which in ("learning", "all"):
        report = await bench_learning.run(
            bench_learning.LearningOptions(
                jobs=args.learning_jobs,
                seed=seed + 7,
                policy=PollPolicy(**overrides) if overrides else bench_learning.QUICK,
            )
        )
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which == "redis":  # needs a Redis server, so not part of "all"
        from . import bench_redis

        report = await bench_redis.run(
            bench_redis.RedisOptions(seed=seed + 4, baseline_source=args.baseline_source)
        )
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    if args.which == "soak":  # needs a Redis server and minutes, so not part of "all"
        from . import bench_soak

        report = await bench_soak.run(bench_soak.SoakOptions(jobs=args.soak_jobs, seed=seed + 5))
        print(report.text, end="\n\n", flush=True)
        reports.append(report)
    return reports


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    policy = PollPolicy(**dict(args.policy))
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"seed {seed}; fastwait {policy!r}\n", flush=True)
    started = time.perf_counter()
    try:
        reports = asyncio.run(_run(args, seed))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    missed = [t.description for r in reports for t in r.targets if not t.passed]
    elapsed = time.perf_counter() - started
    if args.json:
        document = {
            "seed": seed,
            "policy": attrs.asdict(policy),
            "seconds": round(elapsed, 1),
            "scenarios": {report.name: report.as_json() for report in reports},
            "passed": not missed,
        }
        with open(args.json, "w") as file:
            json.dump(document, file, indent=2)
    verdict = f"{len(missed)} target(s) missed" if missed else "all targets met"
    print(f"{verdict} in {elapsed:.0f} s", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
