"""Two replicas sharing Redis: the webhook lands on one, the waiter on the other wakes up.

Behind a load balancer, the API's webhook for a job reaches whichever replica the balancer
picks, rarely the one awaiting the job. Both replicas use ``Registry(redis=URL)``: replica A
receives the webhook and publishes it (its receiver feeds its registry), Redis stores and
announces the result, and ``await client.wait(job_id)`` on replica B returns. The replicas
here live in one process for brevity; they share nothing but Redis, exactly as two processes
would.

    python samples/replicas.py --fake                          # offline: fake API, local Redis
    python samples/replicas.py --fake --redis redis://host:6379/0
    FASTWAIT_API_KEY=... FASTWAIT_WEBHOOK_SECRET=whsec_... PUBLIC_URL=https://a.example.com \\
        python samples/replicas.py --port 8080 photo.jpg       # PUBLIC_URL routes to port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastwait import Client, FastwaitError, Registry, Resolution, StandardWebhookVerifier, receiver
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider

FAKE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def redis_answers(url: str) -> bool:
    """Whether the Redis at ``url`` answers (fastwait itself waits through outages)."""
    import redis.asyncio
    import redis.exceptions

    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=1.0)
    try:
        return bool(await client.ping())
    except redis.exceptions.RedisError:
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def the_api(fake: bool) -> AsyncIterator[tuple[ToolsFastCompress, str]]:
    """The compress API and the secret its webhooks are signed with."""
    if not fake:
        secret = os.environ["FASTWAIT_WEBHOOK_SECRET"]
        yield ToolsFastCompress(os.environ["FASTWAIT_API_KEY"]), secret
        return
    async with FakeProvider(durations=1.5, webhook_secret=FAKE_SECRET) as provider:
        yield ToolsFastCompress("test-key", provider.base_url("compress")), FAKE_SECRET


async def main(redis_url: str, fake: bool, port: int, file: Path | None) -> int:
    if not await redis_answers(redis_url):
        print(f"no Redis answers at {redis_url} (start one: redis-server)", file=sys.stderr)
        return 2
    async with (
        the_api(fake) as (api, secret),
        Registry(redis=redis_url) as replica_a,
        Registry(redis=redis_url) as replica_b,
    ):
        published_at: dict[str, float] = {}

        def on_a(key: tuple[str, str], resolution: Resolution) -> None:
            published_at[key[1]] = time.perf_counter()
            state = resolution.status.state.name
            print(f"replica A: {resolution.source} says job {key[1]} is {state}")

        replica_a.on_resolved(on_a)
        # Replica A serves the receiver the load balancer sent the webhook to.
        app = receiver.create_app(replica_a, [api], verifier=StandardWebhookVerifier([secret]))
        async with receiver.serve(app, "127.0.0.1", 0 if fake else port) as url_a:
            public_url = url_a if fake else os.environ["PUBLIC_URL"]
            # Replica B submits and waits; its poller keeps only a slow safety net.
            async with Client(api, registry=replica_b, callback_url=public_url) as client_b:
                with tempfile.TemporaryDirectory() as scratch:
                    upload = file or Path(scratch, "photo.jpg")
                    if file is None:
                        upload.write_bytes(b"\xff\xd8 pretend jpeg bytes")
                    try:
                        accepted = await client_b.submit(upload)
                        print(f"replica B: submitted job {accepted.id}, waiting")
                        resolution = await client_b.wait_resolution(accepted.id, timeout=120)
                    except FastwaitError as exc:
                        print(f"replica B: {exc}", file=sys.stderr)
                        return 1
                woke_at = time.perf_counter()
                state = resolution.status.state.name
                print(f"replica B: job {accepted.id} is {state}, by {resolution.source}", end="")
                if accepted.id in published_at:
                    print(f", {(woke_at - published_at[accepted.id]) * 1000:.1f} ms after A had it")
                else:
                    print()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", help="the file to compress (real API)")
    parser.add_argument("--fake", action="store_true", help="use the bundled fake provider")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument("--port", type=int, default=8080, help="replica A's receiver port")
    args = parser.parse_args()
    if not args.fake and args.file is None:
        parser.error("give a file to compress, or --fake")
    sys.exit(asyncio.run(main(args.redis, args.fake, args.port, args.file)))
