"""``fastwait wait``: await job ids, report each the moment it finishes, download outputs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import attrs

from fastwait._client import Client, JobResult
from fastwait.cli._display import LiveDisplay, jsonl_line, result_state, summary_table
from fastwait.exceptions import ConfigurationError, FastwaitError
from fastwait.providers import (
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
)
from fastwait.registry._registry import Registry
from fastwait.webhooks import StandardWebhookVerifier
from fastwait.webhooks._callback_bindings import CallbackBindings
from fastwait.webhooks._callback_tokens import CallbackTokens

__all__ = ["WaitOptions", "build_provider", "run_wait"]


@attrs.frozen
class WaitOptions:
    """The ``wait`` command's settings, validated by the parser."""

    provider: str
    base_url: str | None
    api_key: str | None = attrs.field(repr=False)
    timeout: float | None
    download: str | None
    jsonl: bool
    job_ids: list[str]
    state: str | None = None
    redis: str | None = None
    listen: tuple[str, int] | None = None
    webhook_secret: str | None = attrs.field(default=None, repr=False)


def build_provider(name: str, base_url: str | None, api_key: str | None) -> Provider:
    """The provider the CLI names ``name``; ConfigurationError when a credential is missing."""
    if name == "media":
        if not base_url:
            raise ConfigurationError("--base-url is required for the self-hosted media API")
        return MediaJobs(base_url, token=api_key or None)
    if not api_key:
        raise ConfigurationError("--api-key or the FASTWAIT_API_KEY variable is required")
    if name == "compressorapp":
        return CompressorApp(api_key, base_url) if base_url else CompressorApp(api_key)
    cls = {"compress": ToolsFastCompress, "convert": ToolsFastConvert}.get(name)
    if cls is None:
        raise ConfigurationError(f"unknown provider {name!r}")
    return cls(api_key, base_url) if base_url else cls(api_key)


def _fail(message: str) -> None:
    print(f"fastwait: {message}", file=sys.stderr, flush=True)


async def run_wait(options: WaitOptions) -> int:
    """Wait for every job; exit status 0 if all succeeded, else 1."""
    provider = build_provider(options.provider, options.base_url, options.api_key)
    download_dir = Path(options.download) if options.download else None
    if download_dir is not None and not download_dir.is_dir():
        raise ConfigurationError(f"--download {download_dir} is not a directory")
    if options.listen is not None and not options.webhook_secret:
        raise ConfigurationError("--listen needs --webhook-secret (or FASTWAIT_WEBHOOK_SECRET)")
    registry = _registry(options)
    async with registry, contextlib.AsyncExitStack() as stack:
        callback_url = None
        bindings = CallbackBindings()
        if options.listen is not None:
            assert options.webhook_secret is not None
            callback_url = await stack.enter_async_context(
                _listen(options.listen, options.webhook_secret, registry, provider, bindings)
            )
        return await _wait_all(options, provider, registry, download_dir, callback_url, bindings)


_STATE_RESULT_TTL = 7 * 24 * 3600.0
"""Seconds a ``--state`` file keeps results: a run resumed within a week reprints what it
never printed, and awaiting a job again within a week costs no request."""


def _registry(options: WaitOptions) -> Registry:
    if options.state is not None:
        return Registry(state=options.state, result_ttl=_STATE_RESULT_TTL)
    return Registry(redis=options.redis)


@contextlib.asynccontextmanager
async def _listen(
    address: tuple[str, int],
    secret: str,
    registry: Registry,
    provider: Provider,
    bindings: CallbackBindings,
) -> AsyncIterator[str]:
    """Serve the webhook receiver inside this process, publishing into ``registry``."""
    from fastwait import receiver

    app = receiver.create_app(
        registry,
        [provider],
        verifier=StandardWebhookVerifier([secret]),
        callback_tokens=CallbackTokens(secret),
        bindings=bindings,
    )
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(receiver.serve(app, *address))
        except OSError as exc:
            where = f"{address[0]}:{address[1]}"
            raise ConfigurationError(f"cannot listen on {where}: {exc.strerror}") from None
        print(f"fastwait: receiving webhooks on {url}", file=sys.stderr, flush=True)
        yield url


async def _wait_all(
    options: WaitOptions,
    provider: Provider,
    registry: Registry,
    download_dir: Path | None,
    callback_url: str | None,
    bindings: CallbackBindings,
) -> int:
    live = not options.jsonl and sys.stderr.isatty()
    display = LiveDisplay(0, sys.stderr) if live else None
    results: list[JobResult] = []
    ok = True
    async with Client(
        provider,
        registry=registry,
        on_progress=display.progress if display is not None else None,
        callback_url=callback_url,
        webhook_secret=options.webhook_secret if callback_url else None,
        callback_bindings=bindings,
    ) as client:
        job_ids = list(dict.fromkeys([*options.job_ids, *await client.resume(unreported=True)]))
        if not job_ids:
            _fail(f"nothing to wait for: {options.state} holds no unresolved or unreported jobs")
            return 0
        if display is not None:
            display.total = len(job_ids)
        async for result in client.as_completed(job_ids, options.timeout):
            results.append(result)
            if options.jsonl:
                print(jsonl_line(result), flush=True)
            if display is not None:
                display.finished(result)
            if not result.succeeded:
                ok = False
                if not options.jsonl:
                    _fail(f"{result.job_id}: {result_state(result)} {_reason(result)}".rstrip())
            elif download_dir is not None:
                try:
                    await client.download(result.job_id, download_dir, status=result.status)
                except FastwaitError as exc:
                    ok = False
                    _fail(f"{result.job_id}: download failed: {exc}")
            if options.jsonl:
                _mark_reported(client, [result])
        if display is not None:
            display.close()
        if not options.jsonl:
            print(summary_table(results), flush=True)
            _mark_reported(client, results)
    return 0 if ok else 1


def _mark_reported(client: Client, results: list[JobResult]) -> None:
    """Journal that these results are out (printed, flushed, downloaded): a resumed run
    prints only what was not (at-least-once output)."""
    for result in results:
        if result.status is not None:
            client.mark_reported(result.job_id)


def _reason(result: JobResult) -> str:
    if result.error is not None:
        return f"({result.error})"
    status = result.status
    if status is not None and (status.error_code or status.error_detail):
        return f"({': '.join(p for p in (status.error_code, status.error_detail) if p)})"
    return ""
