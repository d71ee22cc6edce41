"""One replica of the soak benchmark, in a process of its own so that it can be SIGKILLed.

Usage: ``python -m tests.benchmarks._soak_replica FAKE_URL REDIS_URL PREFIX IDS_FILE TIMEOUT``.
Awaits every id in ``IDS_FILE`` through the Redis store under ``PREFIX``; prints one JSON line
naming its replica id (so the benchmark can drop exactly its Redis connections), then one JSON
line per job as it ends: ``{"id", "state", "error"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from fastwait import Client, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore

from ._harness import API_KEY

__all__ = ["main"]


async def _replica(
    fake_url: str, redis_url: str, prefix: str, ids: list[str], timeout: float
) -> None:
    store = RedisResultStore(redis_url, prefix=prefix)
    async with (
        Registry(store) as registry,
        Client(
            ToolsFastCompress(API_KEY, fake_url), registry=registry, max_connections=32
        ) as client,
    ):
        print(json.dumps({"replica": store.replica_id}), flush=True)
        async for result in client.as_completed(ids, timeout):
            state = result.status.state.name if result.status is not None else None
            error = (
                None if result.error is None else f"{type(result.error).__name__}: {result.error}"
            )
            print(json.dumps({"id": result.job_id, "state": state, "error": error}), flush=True)


def main(argv: Sequence[str]) -> int:
    fake_url, redis_url, prefix, ids_file, timeout = argv
    ids = Path(ids_file).read_text().split()
    asyncio.run(_replica(fake_url, redis_url, prefix, ids, float(timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
