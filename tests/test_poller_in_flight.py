"""The poller's scheduler holds the in-flight slots itself: never more than max_in_flight."""

from __future__ import annotations

import asyncio

from fastwait import Client, JobStatus, PollPolicy, Registry
from fastwait.polling import Poller
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider


async def test_never_more_polls_in_flight_than_max_in_flight() -> None:
    async with FakeProvider(seed=20, durations=0.3) as fake:
        ids = [fake.create_job("compress") for _ in range(40)]
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        in_flight = most = 0

        async with Client(provider) as client:

            async def fetch(job_id: str) -> tuple[JobStatus, float | None]:
                nonlocal in_flight, most
                in_flight += 1
                most = max(most, in_flight)
                try:
                    return await client.status(job_id), None  # real HTTP to the fake
                finally:
                    in_flight -= 1

            registry = Registry()
            policy = PollPolicy(first_poll=0.0, floor=0.05)
            async with Poller(
                "compress", fetch, registry, reports_progress=True, policy=policy, max_in_flight=3
            ) as poller:
                for job_id in ids:
                    poller.track(job_id)
                done = await asyncio.gather(*(registry.wait(("compress", i)) for i in ids))
    assert all(status.is_terminal for status in done)
    assert most == 3  # 40 jobs due at once fill every slot, and never one more
