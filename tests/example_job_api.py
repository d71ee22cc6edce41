"""A small JSON job API of a user's own, served on loopback: what a provider plugin is written for.

It plays the API of ``docs/guides/provider-plugins.md`` (the issue's example): ``POST /v1/jobs``
with a JSON body → ``202 {"id"}``; ``GET /v1/jobs/{id}`` → ``{"status":
"queued|running|done|error", "progress", "result_url"}``, which does not name the job (the
caller knows which it asked about); ``GET /v1/quota`` → ``{"left"}``; a bearer key on every
request. Each job walks through its ``plan`` one status per poll. A job submitted with a
``callback_url`` stays ``running`` for polls until its webhook was delivered and acknowledged,
so whoever awaits it learns the end by webhook: Standard Webhooks-signed and naming its job on
a ``/hooks/`` URL, unsigned and naming none on a per-job ``/callbacks/`` one.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from fastwait import StandardWebhookSigner

API_KEY = "my-api-key"
"""The key the guide's blocks use; every other key is answered 401 (and echoed, as servers do)."""


@attrs.define
class ExampleJob:
    plan: list[tuple[str, int]]
    callback_url: str | None = None
    polls: int = 0
    called_back: bool = False


@attrs.define
class ExampleApi:
    """The API's state; ``url`` is its root once :func:`serve_example_api` started it."""

    signer: StandardWebhookSigner | None = None
    jobs: dict[str, ExampleJob] = attrs.field(factory=dict)
    submitted: list[tuple[str | None, Any]] = attrs.field(factory=list)
    """(Content-Type, decoded body) of each submit."""
    deliveries: list[int] = attrs.field(factory=list)
    """The receiver's answer to each webhook delivered."""
    url: str = ""
    _tasks: set[asyncio.Task[None]] = attrs.field(factory=set)

    def add_job(self, job_id: str, *plan: tuple[str, int]) -> None:
        self.jobs[job_id] = ExampleJob(
            list(plan) or [("queued", 0), ("running", 50), ("done", 100)]
        )

    def body(self, job_id: str, state: str, progress: int) -> dict[str, Any]:
        """The status answer of a poll, which (as the issue's API) does not name its job."""
        done = state == "done"
        return {
            "status": state,
            "progress": progress,
            "result_url": f"/v1/jobs/{job_id}/result" if done else None,
        }

    # --- routes ---------------------------------------------------------------------------
    def _refused(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {API_KEY}":
            # A careless server echoes the key it refused: the provider must redact it.
            return web.json_response({"message": f"bad key {auth[7:]}"}, status=401)
        return None

    async def status(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"code": "not_found", "message": "no such job"}, status=404)
        if job.callback_url is not None and not job.called_back:
            state, progress = "running", 50
        else:
            state, progress = job.plan[min(job.polls, len(job.plan) - 1)]
        job.polls += 1
        return web.json_response(self.body(request.match_info["id"], state, progress))

    async def submit(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        self.submitted.append((request.headers.get("Content-Type"), body))
        if not isinstance(body, dict) or not isinstance(body.get("input_url"), str):
            return web.json_response({"message": "input_url is required"}, status=400)
        job_id = f"j-{len(self.jobs) + 1}"
        self.add_job(job_id, ("done", 100))
        callback_url = body.get("callback_url")
        if isinstance(callback_url, str):
            self.jobs[job_id].callback_url = callback_url
            task = asyncio.get_running_loop().create_task(self._call_back(job_id, callback_url))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": job_id}, status=202)

    async def _call_back(self, job_id: str, url: str) -> None:
        signed = self.signer is not None and "/hooks/" in url
        # A signed webhook names its job; a callback to a per-job URL need not.
        body = json.dumps(self.body(job_id, "done", 100) | ({"id": job_id} if signed else {}))
        headers = {"Content-Type": "application/json"}
        if self.signer is not None and signed:
            msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers |= {
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": self.signer.sign(msg_id, timestamp, body.encode()),
            }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as answer,
        ):
            self.deliveries.append(answer.status)
            if answer.status < 300:
                self.jobs[job_id].called_back = True

    async def result(self, request: web.Request) -> web.Response:
        if request.match_info["id"] not in self.jobs:
            raise web.HTTPNotFound
        return web.Response(
            body=b"the result of " + request.match_info["id"].encode(),
            headers={"Content-Disposition": 'attachment; filename="result.txt"'},
        )

    async def quota(self, request: web.Request) -> web.Response:
        return self._refused(request) or web.json_response({"left": 120})

    async def aclose(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks)


@asynccontextmanager
async def serve_example_api(
    signer: StandardWebhookSigner | None = None,
) -> AsyncIterator[ExampleApi]:
    """The example API on 127.0.0.1 (a free port), with job ``j-42`` queued."""
    api = ExampleApi(signer)
    api.add_job("j-42")
    app = web.Application()
    app.router.add_post("/v1/jobs", api.submit)
    app.router.add_get("/v1/jobs/{id}", api.status)
    app.router.add_get("/v1/jobs/{id}/result", api.result)
    app.router.add_get("/v1/quota", api.quota)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    api.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield api
    finally:
        await api.aclose()
        await runner.cleanup()
