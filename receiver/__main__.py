"""``python -m receiver``: the webhook receiver as a service of its own.

It logs every status it receives (one line each); it is the same app :func:`receiver.create_app`
builds, served by :func:`receiver.serve` until SIGINT or SIGTERM. Secrets may come from the
environment (``FASTWAIT_WEBHOOK_SECRET``, ``FASTWAIT_CALLBACK_SECRET``) so they stay out of
``ps``. Providers are built only to translate bodies (``parse_status``), which needs no API key:
none is asked for, and the placeholder they are given is never sent anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import NoReturn

from fastwait import CallbackTokens, JobStatus, Registry, StandardWebhookVerifier
from fastwait.exceptions import ConfigurationError
from fastwait.providers import (
    PROVIDERS,
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
)
from receiver._app import create_app
from receiver._server import serve

__all__ = ["build_providers", "main"]

log = logging.getLogger("fastwait.receiver")

_UNUSED_API_KEY = "receiver-never-calls-the-api"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m receiver", description="Receive job webhooks and log each status."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--provider", action="append", required=True, choices=sorted(PROVIDERS), dest="providers"
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
        help="Standard Webhooks HMAC secret (repeat to rotate; env FASTWAIT_WEBHOOK_SECRET)",
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
        help="publish into this Redis (a webhook ingress apart from the waiting workers)",
    )
    return parser


def build_providers(names: Sequence[str], base_urls: Sequence[str]) -> list[Provider]:
    """Providers for ``names``; ``base_urls`` entries read ``URL`` (all) or ``NAME=URL``."""
    urls: dict[str | None, str] = {}
    for entry in base_urls:
        named, equals, named_url = entry.partition("=")
        if equals and named in PROVIDERS:
            urls[named] = named_url
        else:
            urls[None] = entry
    providers: list[Provider] = []
    for name in dict.fromkeys(names):
        url = urls.get(name, urls.get(None))
        if name == "media":
            if url is None:
                raise ConfigurationError("media needs --base-url (it has no public address)")
            providers.append(MediaJobs(url))
        elif name == "compressorapp":
            providers.append(
                CompressorApp(_UNUSED_API_KEY)
                if url is None
                else CompressorApp(_UNUSED_API_KEY, url)
            )
        else:
            cls = ToolsFastCompress if name == "compress" else ToolsFastConvert
            providers.append(cls(_UNUSED_API_KEY) if url is None else cls(_UNUSED_API_KEY, url))
    return providers


def _log_status(status: JobStatus) -> None:
    percent = "" if status.progress_percent is None else f" {status.progress_percent:g}%"
    log.info("%s job %s: %s%s", status.provider, status.id, status.state.name, percent)


async def _run(
    host: str,
    port: int,
    providers: Sequence[Provider],
    verifier: StandardWebhookVerifier | None,
    tokens: CallbackTokens | None,
    redis: str | None = None,
) -> None:
    async with Registry(redis=redis) as registry:
        registry.subscribe(_log_status)
        app = create_app(registry, providers, verifier=verifier, callback_tokens=tokens)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
                loop.add_signal_handler(signum, stop.set)
        async with serve(app, host, port) as url:
            log.info("receiving on %s (%s)", url, ", ".join(p.name for p in providers))
            await stop.wait()
        log.info("stopped")


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the receiver until SIGINT/SIGTERM; usage errors exit 2 with one line."""
    parser = _parser()
    if prog is not None:
        parser.prog = prog
    args = parser.parse_args(argv)
    env_secret = os.environ.get("FASTWAIT_WEBHOOK_SECRET")
    secrets = args.webhook_secret or ([env_secret] if env_secret else [])
    try:
        providers = build_providers(args.providers, args.base_url)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_run(args.host, args.port, providers, verifier, tokens, args.redis))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
