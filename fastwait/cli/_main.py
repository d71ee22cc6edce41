"""The ``fastwait`` command: argument parsing and exit codes, nothing else.

The exit codes are tabled in :mod:`fastwait.cli._outcome`. Every error a user can cause (bad
flags, an unreadable ids file, a port in use, a Redis URL that is not one) is one line on
stderr and exit status 2, never a traceback; a reader that stops reading (``| head -1``) ends
the command quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from fastwait._version import installed_version
from fastwait.cli._ids import read_job_ids
from fastwait.cli._logging import add_logging_options, configure_logging, level_for
from fastwait.cli._outcome import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_JOBS_FAILED,
    EXIT_USAGE,
)
from fastwait.cli._parser import CommandParser
from fastwait.exceptions import ConfigurationError, FastwaitError

__all__ = ["main"]

_EPILOG = """\
exit status: 0 all jobs succeeded; 1 some failed, were canceled or could not be downloaded;
2 bad usage or configuration; 3 some timed out (--timeout) and none failed; 130 interrupted;
141 the reader of standard output went away (| head).
"""


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
    parser = CommandParser(
        prog="fastwait",
        description="Await the results of remote jobs, by polling or by webhook.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fastwait {installed_version()}")
    add_logging_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)

    wait = commands.add_parser(
        "wait",
        help="wait for jobs by id until they finish",
        description="Wait for jobs by id; report each the moment it finishes.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_logging_options(wait)
    which = wait.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--provider",
        metavar="NAME",
        help="the job API: a built-in (compress, convert, compressorapp, media) or an installed"
        " provider ('fastwait providers' lists them)",
    )
    which.add_argument(
        "--provider-spec",
        metavar="FILE.toml",
        help="a declared job API (its credential: the environment variable the spec names)",
    )
    wait.add_argument("--base-url", help="API root (default: the provider's real host)")
    wait.add_argument(
        "--api-key",
        help="API key or media token (default: the FASTWAIT_API_KEY environment variable;"
        " with --provider-spec, the spec's own variable)",
    )
    wait.add_argument("--timeout", type=_positive_float, help="seconds to wait per job")
    wait.add_argument(
        "--download",
        metavar="DIR",
        help="save each succeeded job's outputs here (made if missing; a multi-output ZIP is "
        "unpacked; a name already taken gets the job id appended)",
    )
    wait.add_argument(
        "--overwrite", action="store_true", help="with --download: replace files of the same name"
    )
    wait.add_argument("--jsonl", action="store_true", help="one JSON object per finished job")
    wait.add_argument("--ids-file", metavar="FILE", help="job ids, one per line ('-': stdin)")
    where = wait.add_mutually_exclusive_group()
    where.add_argument(
        "--state",
        metavar="PATH",
        help="journal jobs and results in this SQLite file; every run also resumes the jobs"
        " it holds unfinished or unreported (ids are then optional)",
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
        help="whsec_... secrets for --listen, comma-separated to rotate (default:"
        " FASTWAIT_WEBHOOK_SECRET)",
    )
    wait.add_argument("job_ids", nargs="*", metavar="JOB_ID")

    commands.add_parser(
        "receive",
        help="run the webhook receiver alone (see 'fastwait receive --help')",
        add_help=False,
        prefix_chars="\0",
    ).add_argument("receiver_args", nargs=argparse.REMAINDER)

    commands.add_parser(
        "providers",
        help="list every provider, built-in or installed, with where it comes from",
        description="List every provider with its origin; one line on stderr (and exit status"
        " 1) for each that cannot be used, the others still work.",
    )

    demo = commands.add_parser("demo", help="run a batch against the bundled fake provider")
    add_logging_options(demo)
    demo.add_argument("--jobs", type=int, default=8, help="jobs per API (default 8)")
    demo.add_argument(
        "--median", type=_positive_float, default=2.0, help="median job duration in seconds"
    )
    demo.add_argument("--seed", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "receive":
        from fastwait.cli._receive import main as receive

        forwarded = ["-v"] * args.verbose + ["-q"] * args.quiet
        forwarded += ["--log-format", args.log_format] if args.log_format else []
        return receive([*args.receiver_args, *forwarded], prog="fastwait receive")
    configure_logging(level_for(args.verbose, args.quiet), args.log_format or "text")
    try:
        return _run(args)
    except ConfigurationError as exc:
        print(f"fastwait: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FastwaitError as exc:
        print(f"fastwait: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_JOBS_FAILED
    except KeyboardInterrupt:
        print("fastwait: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_gone()


def _run(args: argparse.Namespace) -> int:
    if args.command == "providers":
        from fastwait.cli._providers import list_providers

        return list_providers()
    if args.command == "demo":
        from fastwait.cli._demo import run_demo

        if args.jobs < 1:
            raise ConfigurationError("--jobs must be at least 1")
        return asyncio.run(run_demo(jobs=args.jobs, median=args.median, seed=args.seed))
    from fastwait.cli._wait import WaitOptions, run_wait

    job_ids = read_job_ids(args.job_ids, args.ids_file)
    if not job_ids and not args.state:
        raise ConfigurationError("give job ids as arguments or with --ids-file (or --state)")
    options = WaitOptions(
        provider=args.provider or "",
        provider_spec=args.provider_spec,
        base_url=args.base_url,
        api_key=args.api_key
        or (None if args.provider_spec else os.environ.get("FASTWAIT_API_KEY")),
        timeout=args.timeout,
        download=args.download,
        jsonl=args.jsonl,
        job_ids=job_ids,
        state=args.state,
        redis=args.redis or (None if args.state else os.environ.get("FASTWAIT_REDIS_URL")),
        listen=args.listen,
        webhook_secret=args.webhook_secret,
        overwrite=args.overwrite,
    )
    return asyncio.run(run_wait(options))


def _reader_gone() -> int:
    """The reader of our output left (``| head -1``): stop quietly, like a tool killed by
    SIGPIPE, and keep the interpreter's final flush from raising again."""
    logging.disable(logging.CRITICAL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            continue
    return EXIT_BROKEN_PIPE
