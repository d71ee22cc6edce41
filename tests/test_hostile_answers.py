"""Answers an API should never give, from a tiny loopback server of the test: bodies that arrive
in pieces or too large, statuses of the wrong job, JSON nested past any parser's depth."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import seed_payloads as seeds
from aiohttp import web

from fastwait import Client, PollPolicy
from fastwait.exceptions import BadResponseError, NotReadyError, WaitTimeout
from fastwait.providers import ToolsFastCompress

KEY = "test-key"
FAST = PollPolicy(first_poll=0.01, blind_first_poll=0.01, floor=0.01, ceiling=0.05)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def status_body(**fields: Any) -> bytes:
    return json.dumps({**seeds.TF_COMPRESS_STATUS, **fields}, ensure_ascii=False).encode()


async def written_in_pieces(
    request: web.Request, pieces: list[bytes], *, chunked: bool
) -> web.StreamResponse:
    """Answer ``pieces`` in separate writes, a slow network's pause between them."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if chunked:
        response.enable_chunked_encoding()
    else:
        response.content_length = sum(map(len, pieces))
    await response.prepare(request)
    for index, piece in enumerate(pieces):
        if index:
            await asyncio.sleep(0.3)  # the network's pause, not a synchronisation
        await response.write(piece)
    await response.write_eof()
    return response


async def status_from(handler: Handler, **client_options: Any) -> Any:
    async for url in serve(handler):
        async with Client(ToolsFastCompress(KEY, url), **client_options) as client:
            return await client.status(seeds.TF_JOB_ID)
    raise AssertionError("unreachable")


# --- bodies that arrive in pieces (item 3) -------------------------------------------------


async def test_a_valid_status_of_several_hundred_kib_is_read_whole() -> None:
    body = status_body(progress={"percent": 100, "phase": "x" * (300 << 10)})

    async def big(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    status = await status_from(big)
    assert status.progress_phase == "x" * (300 << 10)


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_status_sent_in_two_writes_is_read_once_both_arrived(chunked: bool) -> None:
    body = status_body()

    async def slow(request: web.Request) -> web.StreamResponse:
        return await written_in_pieces(request, [body[:40], body[40:]], chunked=chunked)

    status = await status_from(slow)
    assert status.id == seeds.TF_JOB_ID


async def test_a_chunked_body_split_inside_a_character_is_decoded_whole() -> None:
    body = status_body(progress={"percent": 40, "phase": "réduction"})
    cut = body.index("é".encode()) + 1  # between the two bytes of é

    async def split(request: web.Request) -> web.StreamResponse:
        return await written_in_pieces(request, [body[:cut], body[cut:]], chunked=True)

    status = await status_from(split)
    assert status.progress_phase == "réduction"


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_size_limit_is_a_clear_transient_error(chunked: bool) -> None:
    body = status_body(progress={"percent": 1, "phase": "x" * (2 << 20)})

    async def huge(request: web.Request) -> web.StreamResponse:
        return await written_in_pieces(request, [body], chunked=chunked)

    with pytest.raises(BadResponseError, match="larger than 1048576 bytes") as raised:
        await status_from(huge)
    assert raised.value.transient


async def test_the_size_limit_is_settable() -> None:
    body = status_body(progress={"percent": 1, "phase": "x" * (2 << 20)})

    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    status = await status_from(huge, max_response_bytes=4 << 20)
    assert status.progress_phase is not None
    with pytest.raises(BadResponseError, match="larger than 1000 bytes"):
        await status_from(huge, max_response_bytes=1000)


# --- a status of the wrong job (item 2) ----------------------------------------------------

ASKED = seeds.TF_JOB_ID
OTHER = "019c56457340753ba9441d7b4e6516b1"


def answering(*ids: str) -> tuple[Handler, list[str]]:
    """A status endpoint answering a succeeded status naming ``ids[n]`` to its n-th poll
    (the last id thereafter); the returned list records the path of every poll."""
    polled: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        polled.append(request.path)
        job_id = ids[min(len(polled), len(ids)) - 1]
        return web.json_response({**seeds.TF_COMPRESS_STATUS, "id": job_id})

    return answer, polled


async def test_a_status_naming_another_job_resolves_neither_and_the_job_is_polled_again() -> None:
    answer, polled = answering(OTHER, OTHER, ASKED)
    async for url in serve(answer):
        async with Client(ToolsFastCompress(KEY, url), policy=FAST) as client:
            status = await client.wait(ASKED, timeout=30)
            assert status.id == ASKED
            assert await client.registry.resolution(("compress", OTHER)) is None
    assert polled == [f"/compress/job/{ASKED}"] * 3


async def test_a_wait_that_only_hears_about_another_job_times_out_with_that_error() -> None:
    answer, _ = answering(OTHER)
    async for url in serve(answer):
        async with Client(ToolsFastCompress(KEY, url), policy=FAST) as client:
            with pytest.raises(WaitTimeout) as raised:
                await client.wait(ASKED, timeout=0.3)
            assert await client.registry.resolution(("compress", OTHER)) is None
    error = raised.value.last_error
    assert isinstance(error, BadResponseError)
    assert error.transient
    assert "another job" in str(error)


async def test_status_refuses_an_answer_about_another_job() -> None:
    answer, _ = answering(OTHER)
    with pytest.raises(BadResponseError, match="another job"):
        await status_from(answer)


# --- JSON nested past the decoder's depth (item 9) -----------------------------------------


async def nested(request: web.Request) -> web.StreamResponse:
    body = b'{"id": "' + seeds.TF_JOB_ID.encode() + b'", "x": ' + b"[" * 50_000 + b"]" * 50_000
    return web.Response(body=body + b"}", content_type="application/json")


async def test_a_status_nested_past_the_decoders_depth_is_a_bad_response() -> None:
    with pytest.raises(BadResponseError, match="nested too deeply"):
        await status_from(nested)


async def test_a_poll_answered_with_deeply_nested_json_fails_the_wait_with_a_typed_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async for url in serve(nested):
        async with Client(ToolsFastCompress(KEY, url), policy=FAST) as client:
            with pytest.raises(BadResponseError, match="nested too deeply"):
                await client.wait(seeds.TF_JOB_ID, timeout=10)
    assert "Traceback" not in caplog.text
    assert "unexpected error" not in caplog.text


async def test_an_error_envelope_sent_in_two_writes_is_read_whole() -> None:
    """A 409's code decides "not ready yet" (transient) from a conflict: never on half a body."""
    envelope = json.dumps(seeds.TF_ERROR_NOT_READY).encode()

    async def not_ready(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=409, headers={"Content-Type": "application/json"})
        response.content_length = len(envelope)
        await response.prepare(request)
        await response.write(envelope[:10])
        await asyncio.sleep(0.3)  # the network's pause, not a synchronisation
        await response.write(envelope[10:])
        return response

    with pytest.raises(NotReadyError) as raised:
        await status_from(not_ready)
    assert raised.value.code == "jobs.not_ready"


async def test_wait_says_on_stderr_when_every_answer_is_about_another_job() -> None:
    answer, polled = answering(OTHER)
    async for url in serve(answer):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fastwait", "wait", "--provider", "compress",
            "--base-url", url, "--jsonl", "--timeout", "3", ASKED,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "FASTWAIT_API_KEY": KEY},
        )  # fmt: skip
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    assert process.returncode == 3  # timed out: never a result, for either job
    line = json.loads(out)
    assert (line["id"], line["state"], line["error"]["code"]) == (ASKED, None, "timeout")
    assert "about another job" in line["error"]["last_error"]
    assert "about another job" in err.decode()
    assert len(polled) >= 2
