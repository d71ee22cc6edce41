"""A long-running service pattern: await many jobs at once and handle each outcome.

One Client (one aiohttp session, one scheduler task) awaits every job; ``as_completed`` hands
each result over the moment it lands, so a failure, a cancellation or a timeout is dealt with
for that job alone while the others keep going.

    FASTWAIT_API_KEY=... python samples/poll_many.py JOB_ID ...
    python samples/poll_many.py --fake 50       # offline: 50 jobs on the fake provider
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import Counter

from fastwait import Client, JobResult, JobState, WaitTimeout
from fastwait.exceptions import ApiError
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider, LogNormalDurations

log = logging.getLogger("poll_many")


def handle(result: JobResult, outcomes: Counter[str]) -> None:
    """What a service does with each finished job: here, count and log it."""
    if result.status is not None and result.status.state is JobState.SUCCEEDED:
        outcomes["succeeded"] += 1
        log.info("%s done after %d polls", result.job_id, result.polls)
    elif result.status is not None:
        outcomes[result.status.state.name.lower()] += 1
        log.warning(
            "%s %s: %s",
            result.job_id,
            result.status.state.name,
            result.status.error_detail or result.status.error_code,
        )
    elif isinstance(result.error, WaitTimeout):
        outcomes["timed out"] += 1  # the job may still finish: re-queue it, alert, ...
        log.warning("%s still running after %.0f s", result.job_id, result.elapsed)
    elif isinstance(result.error, ApiError):
        outcomes[f"http {result.error.status}"] += 1  # 404: unknown id, 401: bad key, ...
        log.error("%s cannot be awaited: %s", result.job_id, result.error)


async def await_all(client: Client, job_ids: list[str]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    async for result in client.as_completed(job_ids, timeout=900):
        handle(result, outcomes)
    return outcomes


async def main(job_ids: list[str], fake_jobs: int) -> int:
    if not fake_jobs:
        async with Client(ToolsFastCompress(os.environ["FASTWAIT_API_KEY"])) as client:
            outcomes = await await_all(client, job_ids)
    else:
        durations = LogNormalDurations(median=2.0, high=8.0)
        async with FakeProvider(durations=durations, failure_rate=0.05) as fake:
            ids = [fake.create_job("compress") for _ in range(fake_jobs)]
            async with Client(ToolsFastCompress("test-key", fake.base_url("compress"))) as client:
                outcomes = await await_all(client, ids)
            planned = Counter(fake.job("compress", job_id).final_state for job_id in ids)
        print("the fake planned", dict(sorted(planned.items())))
    print(dict(outcomes))
    return 0 if set(outcomes) <= {"succeeded"} else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_ids", nargs="*")
    parser.add_argument("--fake", type=int, default=0, metavar="N", help="N jobs on the fake")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.job_ids, args.fake)))
