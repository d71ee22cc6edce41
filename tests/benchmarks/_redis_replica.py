"""One replica of the Redis benchmark, alone in a process of its own (so that it can be killed).

``python -m tests.benchmarks._redis_replica REDIS_URL PREFIX FAKE_URL API_KEY IDS_FILE`` awaits
the job ids listed (JSON) in ``IDS_FILE`` with a :class:`~fastwait.Client` whose registry
lives in Redis. Its stdout is JSON lines: ``{"replica": id}`` once it started, then every
0.1 s ``{"commands": n}`` (so a replica killed with SIGKILL has told what it sent until
shortly before), and at the end ``{"resolved": n, "polled": n, "commands": n}``. Commands are
counted client side by a connection class that counts what it sends (a Lua script counts
once, as the round trip it is; connection set-up included).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import redis.asyncio

from fastwait import Client, Registry
from fastwait.providers import ToolsFastCompress
from fastwait.registry._redis import RedisResultStore

__all__ = ["main"]

_REPORT_EVERY = 0.1


class CountingConnection(redis.asyncio.Connection):
    """Counts the commands each named client sends (its name is the store's replica id)."""

    sent: ClassVar[collections.Counter[str]] = collections.Counter()

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.sent[self.client_name or "?"] += 1
        await super().send_command(*args, **kwargs)


def _say(**figures: Any) -> None:
    print(json.dumps(figures), flush=True)


async def _report(store: RedisResultStore) -> None:
    while True:
        _say(commands=CountingConnection.sent[f"fastwait-{store.replica_id}"])
        await asyncio.sleep(_REPORT_EVERY)


async def _replica(
    redis_url: str, prefix: str, fake_url: str, api_key: str, ids: list[str]
) -> None:
    store = RedisResultStore(redis_url, prefix=prefix, connection_class=CountingConnection)
    api = ToolsFastCompress(api_key, fake_url)
    resolved = polled = 0
    async with (
        Registry(store) as registry,
        Client(api, registry=registry, max_connections=64) as client,
    ):
        _say(replica=store.replica_id)
        reporting = asyncio.create_task(_report(store))
        try:
            async for result in client.as_completed(ids, timeout=120):
                resolved += result.status is not None
                polled += result.polls > 0
        finally:
            reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporting
    commands = CountingConnection.sent[f"fastwait-{store.replica_id}"]
    _say(resolved=resolved, polled=polled, commands=commands)


def main(argv: Sequence[str]) -> int:
    redis_url, prefix, fake_url, api_key, ids_file = argv
    with open(ids_file) as file:
        ids = [str(job_id) for job_id in json.load(file)]
    asyncio.run(_replica(redis_url, prefix, fake_url, api_key, ids))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
