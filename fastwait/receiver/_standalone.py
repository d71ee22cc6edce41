"""The receiver as a process of its own: a registry, the app, a log line per status, until SIGTERM.

``fastwait receive`` (configured by flags) and the repository's ``receiver/`` service
(configured from the environment) both run :func:`run_receiver`; each only reads its settings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastwait._models import JobStatus
from fastwait.providers import Provider
from fastwait.receiver._app import create_app
from fastwait.receiver._endpoints import DEFAULT_BODY_TIMEOUT
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES
from fastwait.receiver._server import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    serve_until_stopped,
)
from fastwait.registry import Registry
from fastwait.webhooks import CallbackTokens, StandardWebhookVerifier

__all__ = ["run_receiver"]

log = logging.getLogger("fastwait.receiver")


async def run_receiver(
    providers: Sequence[Provider],
    *,
    verifier: StandardWebhookVerifier | None = None,
    callback_tokens: CallbackTokens | None = None,
    redis: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve the receiver for ``providers`` on ``host``:``port`` until SIGINT or SIGTERM.

    Every verified delivery is published into a registry of its own: in the Redis at ``redis``
    (``redis://host:6379/0``), where the workers awaiting the jobs, on any replica, wake at
    once; without it, in memory, and the receiver only logs what arrives. Each status received
    is one INFO line on the ``fastwait.receiver`` logger (``compress job ID: SUCCEEDED``, with
    the fields ``event="status_received"``, ``provider``, ``job_id``, ``state`` and
    ``percent``), after a line with the URL bound; a stop is said too. The other arguments are
    :func:`create_app`'s and :func:`serve`'s.

    Raises :class:`~fastwait.ConfigurationError` before serving when a setting is unusable (a
    Redis URL that is not one, the ``redis`` package missing, neither ``verifier`` nor
    ``callback_tokens``), and :class:`OSError` when it cannot listen. Returns once stopped.
    """
    async with Registry(redis=redis) as registry:
        registry.subscribe(_log_status)
        app = create_app(
            registry,
            providers,
            verifier=verifier,
            callback_tokens=callback_tokens,
            max_body_bytes=max_body_bytes,
            body_timeout=body_timeout,
        )
        await serve_until_stopped(
            app,
            host,
            port,
            label=", ".join(provider.name for provider in providers),
            header_timeout=header_timeout,
            max_connections=max_connections,
        )


def _log_status(status: JobStatus) -> None:
    percent = "" if status.progress_percent is None else f" {status.progress_percent:g}%"
    log.info(
        "%s job %s: %s%s",
        status.provider,
        status.id,
        status.state.name,
        percent,
        extra={
            "event": "status_received",
            "provider": status.provider,
            "job_id": status.id,
            "state": status.state.name,
            "percent": status.progress_percent,
        },
    )
