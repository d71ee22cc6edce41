"""The ``fastwait`` command: argument parsing and exit codes, nothing else.

Exit status: 0 when every job succeeded, 1 when any failed, was canceled or timed out (or its
download failed), 2 for bad usage or configuration, with a one-line message and no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from fastwait.exceptions import ConfigurationError, FastwaitError
from fastwait.providers import PROVIDERS

__all__ = ["main"]

EXIT_OK = 0
EXIT_JOBS_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastwait", description="Await the results of remote jobs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    wait = commands.add_parser("wait", help="wait for jobs by id until they finish")
    wait.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    wait.add_argument("--base-url", help="API root (default: the provider's real host)")
    wait.add_argument(
        "--api-key",
        help="API key or media token (default: the FASTWAIT_API_KEY environment variable)",
    )
    wait.add_argument("--timeout", type=_positive_float, help="seconds to wait per job")
    wait.add_argument("--download", metavar="DIR", help="save each succeeded job's output here")
    wait.add_argument("--jsonl", action="store_true", help="one JSON object per finished job")
    wait.add_argument("--ids-file", metavar="FILE", help="job ids, one per line ('-': stdin)")
    where = wait.add_mutually_exclusive_group()
    where.add_argument(
        "--state",
        metavar="PATH",
        help="journal jobs and results in this SQLite file; with no ids, resume its jobs",
    )
    where.add_argument(
        "--redis",
        metavar="URL",
        help="share results and polling via Redis (default: the FASTWAIT_REDIS_URL variable,"
        " which keeps a password out of the process list)",
    )
    wait.add_argument(
        "--listen",
        type=_host_port,
        metavar="HOST:PORT",
        help="also receive the jobs' webhooks here (their results say source=webhook)",
    )
    wait.add_argument(
        "--webhook-secret",
        default=os.environ.get("FASTWAIT_WEBHOOK_SECRET"),
        help="whsec_ secret of the webhooks (env FASTWAIT_WEBHOOK_SECRET); needed with --listen",
    )
    wait.add_argument("job_ids", nargs="*", metavar="JOB_ID")

    commands.add_parser(
        "receive",
        help="run the webhook receiver alone (see 'fastwait receive --help')",
        add_help=False,
        prefix_chars="\0",
    ).add_argument("receiver_args", nargs=argparse.REMAINDER)

    demo = commands.add_parser("demo", help="run a batch against the bundled fake provider")
    demo.add_argument("--jobs", type=int, default=8, help="jobs per API (default 8)")
    demo.add_argument(
        "--median", type=_positive_float, default=2.0, help="median job duration in seconds"
    )
    demo.add_argument("--seed", type=int, default=None)
    return parser


def _read_ids(args: argparse.Namespace) -> list[str]:
    """Ids from the arguments and --ids-file; empty only when --state may resume some."""
    ids: list[str] = list(args.job_ids)
    if args.ids_file:
        try:
            if args.ids_file == "-":
                text = sys.stdin.read()
            else:
                with open(args.ids_file, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"cannot read --ids-file: {exc.strerror}") from None
        ids.extend(line.strip() for line in text.splitlines() if line.strip())
    if not ids and not args.state:
        raise ConfigurationError("give job ids as arguments or with --ids-file (or --state)")
    return list(dict.fromkeys(ids))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    if args.command == "receive":
        from fastwait.cli._receive import main as receive

        return receive(args.receiver_args, prog="fastwait receive")
    try:
        if args.command == "demo":
            from fastwait.cli._demo import run_demo

            if args.jobs < 1:
                raise ConfigurationError("--jobs must be at least 1")
            return asyncio.run(run_demo(jobs=args.jobs, median=args.median, seed=args.seed))
        from fastwait.cli._wait import WaitOptions, run_wait

        options = WaitOptions(
            provider=args.provider,
            base_url=args.base_url,
            api_key=args.api_key or os.environ.get("FASTWAIT_API_KEY"),
            timeout=args.timeout,
            download=args.download,
            jsonl=args.jsonl,
            job_ids=_read_ids(args),
            state=args.state,
            redis=args.redis or (None if args.state else os.environ.get("FASTWAIT_REDIS_URL")),
            listen=args.listen,
            webhook_secret=args.webhook_secret,
        )
        return asyncio.run(run_wait(options))
    except ConfigurationError as exc:
        print(f"fastwait: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FastwaitError as exc:
        print(f"fastwait: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_JOBS_FAILED
    except KeyboardInterrupt:
        print("fastwait: interrupted", file=sys.stderr)
        return 130
