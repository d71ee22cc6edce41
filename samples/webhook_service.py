"""A production-style aiohttp service: submit with a callback URL, receive, await.

The service mounts fastwait's receiver under ``/fastwait`` and shares one Registry with its
Client, so ``await client.wait(job_id)`` in a request handler is resolved by the API's webhook
(the poller only keeps a slow safety net in case a webhook is lost). The Client lives in the
app's ``cleanup_ctx``: opened at startup, closed (poller stopped, session closed) at shutdown.

    FASTWAIT_API_KEY=... FASTWAIT_WEBHOOK_SECRET=whsec_... \\
        PUBLIC_URL=https://svc.example.com python samples/webhook_service.py --port 8080
    python samples/webhook_service.py --fake        # offline: fake API, two jobs, then exit
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from fastwait import (
    CallbackBindings,
    CallbackTokens,
    Client,
    FastwaitError,
    Registry,
    StandardWebhookVerifier,
    receiver,
)
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider

CLIENT_KEY = web.AppKey("client", Client)
UPLOADS_KEY = web.AppKey("uploads", Path)


def build_app(api: ToolsFastCompress, secret: str, public_url: str) -> web.Application:
    """The service: ``POST /compress`` (raw body = the file) answers once the job is done."""
    app = web.Application()
    registry = Registry()
    bindings = CallbackBindings()
    app.add_subapp(
        "/fastwait",
        receiver.create_app(
            registry,
            [api],
            verifier=StandardWebhookVerifier([secret]),
            callback_tokens=CallbackTokens(secret),
            bindings=bindings,
        ),
    )

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with Client(
            api,
            registry=registry,
            callback_url=f"{public_url.rstrip('/')}/fastwait",
            webhook_secret=secret,
            callback_bindings=bindings,
        ) as client:
            app[CLIENT_KEY] = client
            with tempfile.TemporaryDirectory() as uploads:
                app[UPLOADS_KEY] = Path(uploads)
                yield
        await registry.aclose()

    app.cleanup_ctx.append(client_context)
    app.router.add_post("/compress", compress)
    return app


async def compress(request: web.Request) -> web.Response:
    client = request.app[CLIENT_KEY]
    name = Path(request.query.get("name", "upload.jpg")).name
    upload = request.app[UPLOADS_KEY] / name
    upload.write_bytes(await request.read())
    try:
        status = await client.submit_and_wait(upload, timeout=300)
    except FastwaitError as exc:
        return web.json_response({"error": str(exc)}, status=502)
    resolution = await client.registry.resolution((client.provider.name, status.id))
    return web.json_response(
        {
            "job": status.id,
            "state": status.state.name,
            "output": status.output.file_name if status.output else None,
            "source": resolution.source if resolution else None,
        }
    )


async def run_service(port: int) -> None:
    secret = os.environ["FASTWAIT_WEBHOOK_SECRET"]
    api = ToolsFastCompress(os.environ["FASTWAIT_API_KEY"])
    app = build_app(api, secret, os.environ["PUBLIC_URL"])
    async with receiver.serve(app, "0.0.0.0", port) as url:
        print(f"serving on {url}")
        await asyncio.Event().wait()


async def run_fake() -> int:
    """Start a fake API that signs its webhooks, the service, and compress two files."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    async with FakeProvider(durations=1.0, webhook_secret=secret) as fake:
        api = ToolsFastCompress("test-key", fake.base_url("compress"))
        # The service must know its public URL before it serves: reserve a port first.
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        app = build_app(api, secret, f"http://127.0.0.1:{port}")
        async with receiver.serve(app, "127.0.0.1", port) as url, aiohttp.ClientSession() as http:
            answers = await asyncio.gather(
                *(
                    http.post(f"{url}/compress?name={name}", data=b"pretend jpeg bytes")
                    for name in ("a.jpg", "b.jpg")
                )
            )
            for answer in answers:
                print(await answer.json())
                answer.release()
        return 0 if all(answer.status == 200 for answer in answers) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fake", action="store_true", help="run offline against the fake API")
    args = parser.parse_args()
    if args.fake:
        sys.exit(asyncio.run(run_fake()))
    asyncio.run(run_service(args.port))
