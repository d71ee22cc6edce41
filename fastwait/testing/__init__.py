"""A faithful fake of the four job APIs fastwait speaks, for offline tests and benchmarks.

``FakeProvider`` serves tools.fast compress and convert, compressor.app and the self-hosted
media optimizer on a real loopback HTTP server, exactly as the API documents specify them,
with knobs for expiry, injected faults and webhooks, and a :class:`JobModel` saying how its jobs
behave (durations, a queued phase, progress curves and noise, failures part-way through)::

    async with FakeProvider(seed=1, durations=0.3) as fake:
        job_id = fake.create_job("compress")
        ...  # point a client at fake.base_url("compress") with api_key "test-key"

    model = JobModel(durations=LogNormalDurations(median=4, sigma=1.0, high=40),
                     queue_share=0.2, curves=ALL_CURVES, progress_noise=8)
    async with FakeProvider(seed=1, job_model=model) as fake: ...

It also plays any declared API (:class:`~fastwait.providers.ApiSpec`, or a TOML spec file)
from the spec its client reads::

    async with FakeProvider(specs=["myapi.toml"]) as fake:
        job_id = fake.create_job("myapi")
        ...  # Client(fake.declared_provider("myapi"))

``python -m fastwait.testing`` runs the same server standalone (see ``--help``; ``--spec``).
"""

from typing import TYPE_CHECKING, Any

from fastwait.testing._faults import Fault, Faults
from fastwait.testing._job_models import (
    ALL_CURVES,
    JobModel,
    JobPlan,
    LogNormalDurations,
    ProgressCurve,
)
from fastwait.testing._jobs import FakeJob, JobPhase
from fastwait.testing._webhooks import WebhookDelivery

if TYPE_CHECKING:
    from fastwait.testing._server import FakeProvider

__all__ = [
    "ALL_CURVES",
    "FakeJob",
    "FakeProvider",
    "Fault",
    "Faults",
    "JobModel",
    "JobPhase",
    "JobPlan",
    "LogNormalDurations",
    "ProgressCurve",
    "WebhookDelivery",
]


def __getattr__(name: str) -> Any:
    """``FakeProvider`` loads its server (and aiohttp.web) when first named: the pytest plugin
    is in this package, and pytest loads it wherever fastwait is installed."""
    if name == "FakeProvider":
        from fastwait.testing._server import FakeProvider

        globals()[name] = FakeProvider
        return FakeProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
