"""No provider's credential reaches another origin: not by a redirect, not by an output URL.

Two real loopback servers: "the API" (the provider's base URL) answers every request with a
redirect, and "another origin" (a CDN, an object store, an attacker) records every request it
receives and answers it like the API would.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import seed_payloads as seeds
from aiohttp import web
from multidict import CIMultiDictProxy

from fastwait import Client, JobStatus
from fastwait.exceptions import TransportError
from fastwait.providers import (
    ApiRequest,
    CompressorApp,
    DeclaredProvider,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
    spec_from_dict,
)

KEY = "fast_live_redirected_key_0123456789"
OUTPUT = b"the output bytes"
CREDENTIALS = {
    "compress": "X-Fast-Api-Key",
    "convert": "X-Fast-Api-Key",
    "compressorapp": "Authorization",
    "media": "Authorization",
    "declared": "X-My-Key",
}
BUILT_IN = ["compress", "compressorapp", "convert", "media"]


@attrs.define
class Origin:
    """A running loopback server and every request it received (method, path, headers)."""

    url: str
    received: list[tuple[str, str, CIMultiDictProxy[str]]] = attrs.field(factory=list)


async def serve(handler: Callable[[web.Request], Any]) -> AsyncIterator[Origin]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Origin(f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


def status_payload(name: str, api: str) -> dict[str, Any]:
    sha1 = hashlib.sha1(OUTPUT, usedforsecurity=False).hexdigest()
    if name == "compress":
        return seeds.TF_COMPRESS_STATUS
    if name == "convert":
        return seeds.TF_CONVERT_STATUS
    if name == "compressorapp":
        job = seeds.COMPRESSORAPP_COMPLETED
        return {
            **job,
            "url": f"{api}/out/{job['id']}/output.mp4",
            "output": {**job["output"], "sha1": sha1, "size": len(OUTPUT)},
        }
    return {**seeds.MEDIA_DONE, "downloadUrl": f"{api}/api/media/jobs/5c3a1b2e-.../download"}


@pytest.fixture
async def other() -> AsyncIterator[Origin]:
    """Another origin: records what it receives, answers like the API."""
    origin: Origin

    async def answer(request: web.Request) -> web.StreamResponse:
        origin.received.append((request.method, request.path, request.headers))
        name = provider_of(request.path)
        if request.method == "POST":
            accepted = seeds.MEDIA_ACCEPTED if name == "media" else seeds.TF_ACCEPTED
            return web.json_response(accepted, status=202)
        if request.path.endswith(("/download", ".mp4")):
            return web.Response(body=OUTPUT, content_type="application/octet-stream")
        return web.json_response(status_payload(name, request.query.get("api", origin.url)))

    async for origin in serve(answer):
        yield origin


@pytest.fixture
async def api(other: Origin) -> AsyncIterator[Origin]:
    """The API's origin: redirects every request to ``other`` (POST with 307, keeping it)."""
    origin: Origin

    async def redirect(request: web.Request) -> web.StreamResponse:
        origin.received.append((request.method, request.path, request.headers))
        target = f"{other.url}{request.path}?api={origin.url}"
        if request.method == "POST":
            raise web.HTTPTemporaryRedirect(target)
        raise web.HTTPFound(target)

    async for origin in serve(redirect):
        yield origin


def provider_of(path: str) -> str:
    """The provider a request path belongs to."""
    for prefix, name in (("/compress", "compress"), ("/convert", "convert"), ("/api/", "media")):
        if path.startswith(prefix):
            return name
    return "compressorapp"


def provider(name: str, base_url: str) -> Provider:
    if name == "compress":
        return ToolsFastCompress(KEY, base_url)
    if name == "convert":
        return ToolsFastConvert(KEY, base_url)
    if name == "compressorapp":
        return CompressorApp(KEY, base_url, auth="bearer")
    return MediaJobs(base_url, token=KEY)


def job_id(name: str) -> str:
    payload = status_payload(name, "")
    return str(payload.get("id") or payload["jobId"])


def assert_no_credential(origin: Origin, name: str) -> None:
    assert origin.received, "the other origin was never reached"
    for method, path, headers in origin.received:
        assert CREDENTIALS[name] not in headers, f"{method} {path} received the credential"
        assert not any(KEY in value for value in headers.values())


@pytest.mark.parametrize("name", BUILT_IN)
async def test_a_status_poll_redirected_to_another_origin_sends_no_credential(
    api: Origin, other: Origin, name: str
) -> None:
    async with Client(provider(name, api.url)) as client:
        status = await client.status(job_id(name))
    assert status.id == job_id(name)
    assert CREDENTIALS[name] in api.received[0][2]  # the API itself did get it
    assert_no_credential(other, name)


@pytest.mark.parametrize("name", BUILT_IN)
async def test_a_download_redirected_to_another_origin_sends_no_credential(
    api: Origin, other: Origin, name: str, tmp_path: Path
) -> None:
    async with Client(provider(name, api.url)) as client:
        # The status comes through the redirect too: its output URL names the API's origin.
        status = await client.status(job_id(name))
        other.received.clear()
        saved = await client.download(status.id, tmp_path, status=status)
    assert saved.read_bytes() == OUTPUT
    assert_no_credential(other, name)


@pytest.mark.parametrize("name", ["compress", "convert", "media"])
async def test_a_submit_redirected_to_another_origin_sends_no_credential(
    api: Origin, other: Origin, name: str, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    options = {"targetFormat": "png"} if name == "convert" else {}
    async with Client(provider(name, api.url)) as client:
        await client.submit(photo, **options)
    assert [method for method, _, _ in other.received] == ["POST"]
    assert_no_credential(other, name)


@pytest.mark.parametrize("name", ["compressorapp", "media"])
async def test_an_output_url_on_another_origin_is_fetched_without_the_credential(
    other: Origin, name: str, tmp_path: Path
) -> None:
    """The API names an output on another origin directly (a pre-signed storage URL)."""
    api = provider(name, "http://127.0.0.1:9")  # never called: the status names the output
    status = api.parse_status(status_payload(name, other.url))
    assert status.download_url is not None
    assert status.download_url.startswith(other.url)
    async with Client(api) as client:
        saved = await client.download(status.id, tmp_path, status=status)
    assert saved.read_bytes() == OUTPUT
    assert_no_credential(other, name)


async def test_a_redirect_within_the_apis_origin_keeps_the_credential() -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        if not request.path.startswith("/v2/"):
            raise web.HTTPMovedPermanently(f"/v2{request.path}")
        if request.headers.get("X-Fast-Api-Key") != KEY:
            return web.json_response({"error": "api_key.invalid_or_ip_not_allowed"}, status=401)
        return web.json_response(seeds.TF_COMPRESS_STATUS)

    async for origin in serve(moved):
        async with Client(ToolsFastCompress(KEY, origin.url)) as client:
            status = await client.status(seeds.TF_JOB_ID)
    assert status.id == seeds.TF_JOB_ID


async def test_a_redirect_loop_ends_in_a_clear_error() -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.path)

    async for origin in serve(loop):
        async with Client(ToolsFastCompress(KEY, origin.url)) as client:
            with pytest.raises(TransportError, match="redirects"):
                await client.status(seeds.TF_JOB_ID)


async def test_a_declared_apis_own_credential_header_never_follows_a_redirect(
    api: Origin, other: Origin
) -> None:
    """A declared API names the header its key travels in: that one is held back too."""
    spec = spec_from_dict(
        {
            "name": "myapi",
            "auth": {"env": "MYAPI_KEY", "scheme": "header", "header": "X-My-Key"},
            "status": {"path": "/compress/job/{id}", "state": "status"},
            "states": {
                "queued": "Queued",
                "running": "Running",
                "succeeded": "Succeeded",
                "failed": "Failed",
            },
        }
    )
    async with Client(DeclaredProvider(spec, api_key=KEY, base_url=api.url)) as client:
        await client.status(seeds.TF_JOB_ID)
    assert api.received[0][2]["X-My-Key"] == KEY
    assert_no_credential(other, "declared")


class StatusOnly(Provider):
    """A user's own provider that declares no credential header, only its secret."""

    name = "statusonly"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def secrets(self) -> tuple[str, ...]:
        return (KEY,)

    def status_request(self, job_id: str) -> ApiRequest:
        url = f"{self.base_url}/compress/job/{job_id}"
        return ApiRequest("GET", url, {"X-Their-Key": f"key={KEY}"})

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        status = ToolsFastCompress(KEY).parse_status(payload, keep_raw=keep_raw)
        return attrs.evolve(status, provider=self.name)


async def test_a_header_holding_a_providers_secret_never_follows_a_redirect(
    api: Origin, other: Origin
) -> None:
    async with Client(StatusOnly(api.url)) as client:
        await client.status(seeds.TF_JOB_ID)
    assert api.received[0][2]["X-Their-Key"] == f"key={KEY}"
    assert_no_credential(other, "declared")
