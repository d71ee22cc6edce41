"""Export what fastwait does as Prometheus metrics: polls, poll errors, resolutions, webhooks.

One event hook on the registry (``Registry(on_event=...)``) sees every poll the client sends,
every error it meets and every job it resolves; this sample counts them with
``prometheus_client`` (``pip install prometheus-client``) and serves them for scraping:

    FASTWAIT_API_KEY=fast_prod_... python samples/metrics.py --port 9464 JOB_ID ...
    python samples/metrics.py --fake 20    # offline: 20 jobs on the fake, prints the metrics

Metric names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms);
labels are the provider's route name, the terminal state and the source: never a job id,
whose every value would be a new time series.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import start_http_server as serve_metrics

from fastwait import Client, PollPolicy, Registry
from fastwait.events import (
    Event,
    JobResolved,
    PollFailed,
    PollSent,
    WebhookAccepted,
    WebhookRefused,
)
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider


class PrometheusEvents:
    """An event hook that counts fastwait's events in ``registry`` (cheap: no I/O, no lock)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.polls = Counter(
            "fastwait_polls", "Status requests sent.", ["provider"], registry=registry
        )
        self.poll_errors = Counter(
            "fastwait_poll_errors",
            "Status requests that failed; transient ones are retried.",
            ["provider", "kind", "error"],
            registry=registry,
        )
        self.resolutions = Counter(
            "fastwait_resolutions",
            "Jobs resolved in this process, by terminal state and source.",
            ["provider", "state", "source"],
            registry=registry,
        )
        self.lag = Histogram(
            "fastwait_resolution_lag_seconds",
            "Bound on how long a finished job waited to be seen.",
            ["provider", "source"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        )
        self.webhooks = Counter(
            "fastwait_webhooks",
            "Webhook deliveries by outcome (accepted, duplicate, or the refusal's reason).",
            ["provider", "outcome"],
            registry=registry,
        )

    def __call__(self, event: Event) -> None:
        match event:
            case PollSent(provider=provider):
                self.polls.labels(provider).inc()
            case PollFailed(provider=provider, error=error, transient=transient):
                kind = "transient" if transient else "permanent"
                self.poll_errors.labels(provider, kind, type(error).__name__).inc()
            case JobResolved(provider=provider, state=state, source=source, lag=lag):
                self.resolutions.labels(provider, state.name, source).inc()
                if lag is not None:
                    self.lag.labels(provider, source).observe(lag)
            case WebhookAccepted(provider=provider, duplicate=duplicate):
                self.webhooks.labels(provider, "duplicate" if duplicate else "accepted").inc()
            case WebhookRefused(provider=provider, reason=reason):
                self.webhooks.labels(provider or "unknown", reason).inc()
            case _:
                pass  # StatusSeen: progress, not worth a time series here


async def wait_all(
    api: ToolsFastCompress, job_ids: Sequence[str], metrics: PrometheusEvents
) -> int:
    """Await every job, counting events; the number of jobs that did not succeed."""
    failed = 0
    policy = PollPolicy(first_poll=0.2, floor=0.1)
    async with (
        Registry(on_event=metrics) as registry,
        Client(api, registry=registry, policy=policy) as client,
    ):
        async for result in client.as_completed(job_ids, timeout=600):
            failed += not result.succeeded
    return failed


async def run_fake(count: int, registry: CollectorRegistry) -> int:
    """``count`` jobs on the fake, three of its status answers failed with 503 on purpose."""
    async with FakeProvider(seed=7, durations=0.5, failure_rate=0.1) as fake:
        job_ids = [fake.create_job("compress") for _ in range(count)]
        fake.faults.fail_next(3, status=503)
        api = ToolsFastCompress("test-key", fake.base_url("compress"))
        failed = await wait_all(api, job_ids, PrometheusEvents(registry))
    print(generate_latest(registry).decode(), end="")
    return failed


async def run_real(job_ids: Sequence[str], port: int, registry: CollectorRegistry) -> int:
    serve_metrics(port, registry=registry)
    print(f"metrics on http://127.0.0.1:{port}/metrics", file=sys.stderr)
    api = ToolsFastCompress(os.environ["FASTWAIT_API_KEY"])
    return await wait_all(api, job_ids, PrometheusEvents(registry))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    parser.add_argument("--fake", type=int, metavar="N", help="await N jobs on the fake provider")
    parser.add_argument("--port", type=int, default=9464, help="where /metrics is served")
    args = parser.parse_args(argv)
    registry = CollectorRegistry()
    if args.fake is not None:
        failed = asyncio.run(run_fake(args.fake, registry))
    elif args.job_ids:
        failed = asyncio.run(run_real(args.job_ids, args.port, registry))
    else:
        parser.error("give job ids, or --fake N")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
