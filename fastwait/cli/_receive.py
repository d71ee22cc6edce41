"""``fastwait receive``: the webhook receiver as a process of its own, configured by flags.

It runs :func:`fastwait.receiver.run_receiver` until SIGINT or SIGTERM, which logs every
status it receives (one line each, at INFO: ``-q`` hides them, ``-v`` adds DEBUG detail,
``--log-format json`` makes each a JSON object). Secrets may come from the environment so
they stay out of ``ps``: ``FASTWAIT_WEBHOOK_SECRET`` (comma-separated, to rotate) and
``FASTWAIT_CALLBACK_SECRET``, read as the repository's ``receiver/`` service reads them; that
service runs the same receiver configured entirely from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Sequence

from fastwait.cli._logging import add_logging_options, configure_logging, level_for
from fastwait.cli._outcome import EXIT_INTERRUPTED, EXIT_OK
from fastwait.cli._parser import CommandParser
from fastwait.cli._providers import resolve_provider
from fastwait.exceptions import ConfigurationError
from fastwait.providers import DeclaredProvider, Provider, load_spec
from fastwait.receiver import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    receiving_providers,
    run_receiver,
)
from fastwait.webhooks import CallbackTokens, StandardWebhookVerifier

__all__ = ["main"]


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="fastwait receive", description="Receive job webhooks, log each status."
    )
    add_logging_options(parser, top_level=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--provider",
        action="append",
        default=[],
        dest="providers",
        metavar="NAME",
        help="receive this job API's webhooks at /hooks/NAME (repeat for several): a built-in"
        " or an installed provider ('fastwait providers' lists them)",
    )
    parser.add_argument(
        "--provider-spec",
        action="append",
        default=[],
        metavar="FILE.toml",
        dest="specs",
        help="a declared job API to receive webhooks of (repeatable; no credential needed)",
    )
    parser.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="[PROVIDER=]URL",
        help="API base URL, to resolve relative download URLs (required for media)",
    )
    parser.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        metavar="whsec_...",
        help="Standard Webhooks HMAC secret (repeat to rotate; default: FASTWAIT_WEBHOOK_SECRET,"
        " comma-separated)",
    )
    parser.add_argument(
        "--public-key", action="append", default=[], metavar="whpk_...", help="Ed25519 key"
    )
    parser.add_argument(
        "--callback-secret",
        default=os.environ.get("FASTWAIT_CALLBACK_SECRET"),
        help="secret of per-job callback tokens (env FASTWAIT_CALLBACK_SECRET; default: the "
        "first --webhook-secret, as fastwait.Client(webhook_secret=...) derives them)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("FASTWAIT_REDIS_URL") or None,
        help="publish into this Redis (a webhook ingress apart from the waiting workers;"
        " env FASTWAIT_REDIS_URL)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help=f"largest delivery accepted; a larger one gets 413 (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection that sends no complete request head for this long "
        f"(default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=_seconds,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"answer 408 to a body not received in this time (default {DEFAULT_BODY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"connections served at once; more get 503 (default {DEFAULT_MAX_CONNECTIONS})",
    )
    return parser


def _declared(path: str, base_urls: list[str]) -> Provider:
    """The declared API of the spec at ``path``, for a receiver: it never calls the API, so a
    placeholder stands for the credential. Its base URL is a ``--base-url NAME=URL`` naming
    it, else the spec's own, else a ``--base-url URL`` for every provider."""
    spec = load_spec(path)
    named = [entry.partition("=")[2] for entry in base_urls if entry.startswith(f"{spec.name}=")]
    shared = [entry for entry in base_urls if entry.startswith(("http://", "https://"))]
    base_url = named[-1] if named else None
    if base_url is None and spec.base_url is None and shared:
        base_url = shared[-1]
    return DeclaredProvider(spec, api_key="receiver-never-calls-the-api", base_url=base_url)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 86400]")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, at least 1")
    return int(text)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the receiver until SIGINT/SIGTERM; usage errors exit 2 with one line."""
    parser = _parser()
    if prog is not None:
        parser.prog = prog
    args = parser.parse_args(argv)
    env_secrets = os.environ.get("FASTWAIT_WEBHOOK_SECRET", "").split(",")
    secrets = args.webhook_secret or [secret.strip() for secret in env_secrets if secret.strip()]
    try:
        if not args.providers and not args.specs:
            raise ConfigurationError("give --provider or --provider-spec")
        classes = [resolve_provider(name) for name in args.providers]
        providers = receiving_providers(classes, args.base_url)
        providers += [_declared(path, args.base_url) for path in args.specs]
        verifier = (
            StandardWebhookVerifier(secrets, args.public_key)
            if secrets or args.public_key
            else None
        )
        token_secret = args.callback_secret or (secrets[0] if secrets else None)
        tokens = None if token_secret is None else CallbackTokens(token_secret)
        if verifier is None and tokens is None:
            raise ConfigurationError("give --webhook-secret, --public-key or --callback-secret")
    except ConfigurationError as exc:
        parser.error(str(exc))
    # The statuses received are this command's output: INFO unless -q (-v adds DEBUG).
    configure_logging(
        level_for(args.verbose, args.quiet, default=logging.INFO), args.log_format or "text"
    )
    try:
        asyncio.run(
            run_receiver(
                providers,
                verifier=verifier,
                callback_tokens=tokens,
                redis=args.redis,
                host=args.host,
                port=args.port,
                max_body_bytes=args.max_body_bytes,
                body_timeout=args.body_timeout,
                header_timeout=args.header_timeout,
                max_connections=args.max_connections,
            )
        )
    except ConfigurationError as exc:
        parser.error(str(exc))
    except OSError as exc:  # binding: the port is taken, the host does not resolve, ...
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK
