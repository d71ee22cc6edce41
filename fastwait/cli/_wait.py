"""``fastwait wait``: await job ids, report each the moment it finishes, download outputs."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import attrs

from fastwait._client import Client
from fastwait._models import JobStatus
from fastwait.cli._display import jsonl_line, summary_table
from fastwait.cli._live import LiveDisplay, PlainDisplay, open_display
from fastwait.cli._outcome import JobReport, download_report, exit_status
from fastwait.cli._providers import resolve_provider
from fastwait.downloads import make_directory
from fastwait.exceptions import ConfigurationError
from fastwait.providers import DeclaredProvider, Provider, load_spec
from fastwait.registry._registry import Registry
from fastwait.webhooks import StandardWebhookVerifier
from fastwait.webhooks._callback_bindings import CallbackBindings
from fastwait.webhooks._callback_tokens import CallbackTokens

__all__ = ["WaitOptions", "build_declared_provider", "build_provider", "run_wait"]

log = logging.getLogger("fastwait.cli")

_LISTED_JOBS = 20
"""Up to this many jobs, the summary after a live board lists them all."""


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
    """``whsec_`` secrets for ``--listen``, comma-separated (several while rotating)."""
    overwrite: bool = False
    provider_spec: str | None = None
    """A declared API's TOML spec, in place of a built-in ``provider``."""

    @property
    def webhook_secrets(self) -> list[str]:
        """The secrets of ``webhook_secret``, in order: the first signs callback tokens."""
        text = self.webhook_secret or ""
        return [secret.strip() for secret in text.split(",") if secret.strip()]


def build_declared_provider(path: str, base_url: str | None, api_key: str | None) -> Provider:
    """The declared API of the spec file at ``path``; its credential is ``api_key`` or the
    environment variable the spec names. SpecError (a ConfigurationError) names the field."""
    return DeclaredProvider(load_spec(path), api_key=api_key or None, base_url=base_url or None)


def build_provider(name: str, base_url: str | None, api_key: str | None) -> Provider:
    """The provider the CLI names ``name`` (:func:`resolve_provider`), built by its class from
    ``--api-key`` and ``--base-url``; ConfigurationError (saying which flags set them) when
    one is missing."""
    provider = resolve_provider(name)
    try:
        return provider.from_settings(api_key or None, base_url or None)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{exc} (API key: --api-key or FASTWAIT_API_KEY; base URL: --base-url)"
        ) from None


async def run_wait(options: WaitOptions) -> int:
    """Wait for every job; the exit status is :func:`fastwait.cli._outcome.exit_status`'s."""
    if options.provider_spec is not None:
        provider = build_declared_provider(options.provider_spec, options.base_url, options.api_key)
    else:
        provider = build_provider(options.provider, options.base_url, options.api_key)
    # Made before anything is awaited: a folder that cannot be must not cost a wait.
    download_dir = make_directory(options.download) if options.download else None
    if options.listen is not None and not options.webhook_secrets:
        raise ConfigurationError("--listen needs --webhook-secret (or FASTWAIT_WEBHOOK_SECRET)")
    registry = _registry(options)
    display = open_display(sys.stderr, live=not options.jsonl)
    async with registry, contextlib.AsyncExitStack() as stack:
        callback_url = None
        bindings = CallbackBindings()
        if options.listen is not None:
            callback_url = await stack.enter_async_context(
                _listen(options.listen, options.webhook_secrets, registry, provider, bindings)
            )
        reports = await _wait_all(
            options, provider, registry, download_dir, callback_url, bindings, display
        )
    if reports is None:
        return 0
    if not options.jsonl:
        # Someone who watched the live board needs the failures, not 200 rows of successes.
        every_job = not isinstance(display, LiveDisplay) or len(reports) <= _LISTED_JOBS
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        print(summary_table(reports, every_job=every_job, width=width), flush=True)
    return exit_status(reports)


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
    secrets: list[str],
    registry: Registry,
    provider: Provider,
    bindings: CallbackBindings,
) -> AsyncIterator[str]:
    """Serve the webhook receiver inside this process, publishing into ``registry``.

    ``secrets`` verify signatures (several while one is rotated out); callback tokens are
    derived from the first, as ``fastwait receive`` does.
    """
    from fastwait import receiver

    app = receiver.create_app(
        registry,
        [provider],
        verifier=StandardWebhookVerifier(secrets),
        callback_tokens=CallbackTokens(secrets[0]),
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
    display: PlainDisplay,
) -> list[JobReport] | None:
    """Every job's report in the order they ended; None when there was nothing to wait for."""
    reports: list[JobReport] = []

    def on_progress(status: JobStatus) -> None:
        display.progress(status)
        if not log.isEnabledFor(logging.DEBUG):  # off by default: its arguments cost more
            return
        log.debug(
            "%s job %s: %s",
            status.provider,
            status.id,
            status.state.name,
            extra={
                "event": "status",
                "provider": status.provider,
                "job_id": status.id,
                "state": status.state.name,
                "percent": status.progress_percent,
            },
        )

    async with Client(
        provider,
        registry=registry,
        on_progress=on_progress,
        callback_url=callback_url,
        webhook_secret=options.webhook_secrets[0] if callback_url else None,
        callback_bindings=bindings,
    ) as client:
        # With --state, what an earlier run left unfinished or unreported joins the given ids
        # (at-least-once output); without a journal, resume() is empty.
        job_ids = list(dict.fromkeys([*options.job_ids, *await client.resume(unreported=True)]))
        if not job_ids:
            display.message(
                f"fastwait: nothing to wait for: {options.state}"
                " holds no unresolved or unreported jobs"
            )
            return None
        display.add(provider.name, job_ids)
        async with display:
            async for result in client.as_completed(job_ids, options.timeout):
                report = await download_report(
                    client, result, download_dir, overwrite=options.overwrite
                )
                reports.append(report)
                if options.jsonl:
                    print(
                        jsonl_line(
                            result,
                            saved=report.saved if download_dir is not None else None,
                            download_error=report.download_error,
                        ),
                        flush=True,
                    )
                display.finished(report)
                _mark_reported(client, report)
                _log_finished(report)
    return reports


def _mark_reported(client: Client, report: JobReport) -> None:
    """Journal that the job's end is out (downloaded, then printed and flushed): a run
    resumed after a crash reports what was not, and only that (at-least-once output).

    A result whose download failed stays unreported, so the resumed run downloads it again.
    """
    if report.result.status is not None and report.download_error is None:
        client.mark_reported(report.result.job_id)


def _log_finished(report: JobReport) -> None:
    if not log.isEnabledFor(logging.INFO):  # off by default (-v turns it on)
        return
    result = report.result
    log.info(
        "%s job %s: %s%s",
        result.provider,
        result.job_id,
        report.state,
        f" ({report.reason})" if report.reason else "",
        extra={
            "event": "job_finished",
            "provider": result.provider,
            "job_id": result.job_id,
            "state": report.state,
            "source": result.source,
        },
    )
