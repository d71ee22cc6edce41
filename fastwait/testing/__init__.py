"""A faithful fake of the four job APIs fastwait speaks, for offline tests and benchmarks.

``FakeProvider`` serves tools.fast compress and convert, compressor.app and the self-hosted
media optimizer on a real loopback HTTP server, exactly as the API documents specify them,
with knobs for durations, failures, expiry, injected faults and webhooks::

    async with FakeProvider(seed=1, durations=0.3) as fake:
        job_id = fake.create_job("compress")
        ...  # point a client at fake.base_url("compress") with api_key "test-key"

``python -m fastwait.testing`` runs the same server standalone (see ``--help``).
"""

from fastwait.testing._faults import Fault, Faults
from fastwait.testing._jobs import FakeJob, JobPhase, LogNormalDurations
from fastwait.testing._server import FakeProvider
from fastwait.testing._webhooks import WebhookDelivery

__all__ = [
    "FakeJob",
    "FakeProvider",
    "Fault",
    "Faults",
    "JobPhase",
    "LogNormalDurations",
    "WebhookDelivery",
]
