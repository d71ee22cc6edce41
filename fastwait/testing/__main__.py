"""``python -m fastwait.testing``: run the fake standalone until SIGTERM or SIGINT.

The first line on stdout is the server's URL (flushed at once), so a benchmark can start the
fake in a subprocess, read one line, and drive it over HTTP (``/_fake/`` control routes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from collections.abc import Callable, Sequence

from fastwait.testing._job_models import (
    ALL_CURVES,
    JobModel,
    LogNormalDurations,
    ProgressCurve,
)
from fastwait.testing._server import FakeProvider

__all__ = ["main"]


def _durations(text: str) -> Callable[[random.Random], float] | float:
    name, _, shape = text.partition(":")
    try:
        if name == "lognormal":
            if not shape:
                return LogNormalDurations()
            median, sigma, high = (float(part) for part in shape.split(","))
            return LogNormalDurations(median=median, sigma=sigma, high=high)
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected seconds, 'lognormal' or 'lognormal:MEDIAN,SIGMA,MAX'"
        ) from None


def _curves(text: str) -> tuple[ProgressCurve, ...]:
    if text == "all":
        return ALL_CURVES
    try:
        return tuple(ProgressCurve(name.strip()) for name in text.split(","))
    except ValueError:
        known = ", ".join(curve.value for curve in ProgressCurve)
        raise argparse.ArgumentTypeError(f"expected 'all' or some of: {known}") from None


def _window(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LOW,HIGH (shares of the running time)") from None
    return low, high


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fastwait.testing",
        description="Serve fake compress/convert/compressor.app/media job APIs (and declared"
        " ones: --spec).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=0, help="0 picks a free port (default)")
    add("--api-key", default="test-key")
    add("--media-token", default=None)
    add(
        "--durations",
        type=_durations,
        default=1.0,
        help="seconds (default 1), 'lognormal' (median 3, sigma 0.8, max 20) or"
        " 'lognormal:MEDIAN,SIGMA,MAX'; from submission to the end, queue included",
    )
    add("--queue-share", type=float, default=0.0, help="share of each job spent queued at 0 %%")
    add("--queue-time", type=float, default=0.0, help="seconds queued on top of the duration")
    add(
        "--curves",
        type=_curves,
        default=(ProgressCurve.STRAIGHT,),
        help="progress curves, one drawn per job: 'all' or a comma list of"
        f" {', '.join(curve.value for curve in ProgressCurve)} (default straight)",
    )
    add("--progress-noise", type=float, default=5.0, help="± points on each reading")
    add("--failure-rate", type=float, default=0.0)
    add(
        "--failure-window",
        type=_window,
        default=(1.0, 1.0),
        help="LOW,HIGH: a failing job ends at a share of its running time drawn from it"
        " (default 1,1: at its planned end)",
    )
    add("--output-ttl", type=float, default=3600.0)
    add("--compressorapp-retry-after", type=float, default=None)
    add("--webhook-secret", default=None, help="whsec_ key signing webhooks")
    add("--webhook-drop-rate", type=float, default=0.0)
    add("--webhook-duplicate-rate", type=float, default=0.0)
    add("--output-size", type=int, default=4096)
    add("--multi-output-pages", type=int, default=3)
    add("--seed", type=int, default=None)
    add("--error-rate", type=float, default=0.0, help="share of job requests answered 503")
    add("--rate-limit-rate", type=float, default=0.0, help="share answered 429")
    add("--retry-after", type=float, default=1.0, help="Retry-After of injected 429s")
    add("--drop-rate", type=float, default=0.0, help="share of connections closed unanswered")
    add("--truncate-rate", type=float, default=0.0, help="share of bodies cut short")
    add("--delay", type=float, default=0.0, help="seconds added to each job response")
    add(
        "--spec",
        action="append",
        default=[],
        metavar="FILE.toml",
        help="also play this declared API, under /NAME (repeatable)",
    )
    add("--declared-retry-after", type=float, default=None, help="Retry-After of declared APIs")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    model = JobModel(
        durations=args.durations,
        queue_share=args.queue_share,
        queue_time=args.queue_time,
        curves=args.curves,
        progress_noise=args.progress_noise,
        failure_rate=args.failure_rate,
        failure_window=args.failure_window,
    )
    async with FakeProvider(
        api_key=args.api_key,
        media_token=args.media_token,
        job_model=model,
        output_ttl=args.output_ttl,
        compressorapp_retry_after=args.compressorapp_retry_after,
        webhook_secret=args.webhook_secret,
        webhook_drop_rate=args.webhook_drop_rate,
        webhook_duplicate_rate=args.webhook_duplicate_rate,
        output_size=args.output_size,
        multi_output_pages=args.multi_output_pages,
        seed=args.seed,
        specs=args.spec,
        declared_retry_after=args.declared_retry_after,
        host=args.host,
        port=args.port,
    ) as fake:
        faults = fake.faults
        faults.error_rate = args.error_rate
        faults.rate_limit_rate = args.rate_limit_rate
        faults.retry_after = args.retry_after
        faults.drop_rate = args.drop_rate
        faults.truncate_rate = args.truncate_rate
        faults.delay = args.delay
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(fake.url, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except ValueError as exc:  # ConfigurationError and rejected fault knobs
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
