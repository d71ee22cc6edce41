"""No API key or Redis password in any output, even when the API echoes it back."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from fastwait import Client, JobFailed, PollPolicy
from fastwait.cli._outcome import EXIT_TIMED_OUT
from fastwait.exceptions import BadResponseError, TransportError
from fastwait.providers import CompressorApp, MediaJobs, Provider, ToolsFastCompress
from fastwait.testing import FakeProvider

KEY = "fast_live_9f8e7d6c5b4a39281706"
FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.5)
ECHOED: dict[str, dict[str, Any]] = {
    "compress": {"error": {"code": f"key.{KEY}", "detail": f"the key {KEY} is over quota"}},
    "compressorapp": {"message": f"the key {KEY} is over quota"},
    "media": {"error": {"code": f"token-{KEY}", "message": f"the token {KEY} expired"}},
}
"""A failed job's error, as an API that echoes the caller's credential writes it."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(seed=3, durations=0.1, api_key=KEY, media_token=KEY) as provider:
        yield provider


def provider_for(name: str, fake: FakeProvider) -> Provider:
    url = fake.base_url(name)
    if name == "compress":
        return ToolsFastCompress(KEY, url)
    if name == "compressorapp":
        return CompressorApp(KEY, url)
    return MediaJobs(url, token=KEY)


@pytest.mark.parametrize("name", sorted(ECHOED))
async def test_a_failed_jobs_echoed_key_is_redacted_from_its_status_and_job_failed(
    fake: FakeProvider, name: str
) -> None:
    job_id = fake.create_job(name, fail=True, terminal_fields=ECHOED[name])
    async with Client(provider_for(name, fake), policy=FAST) as client:
        with pytest.raises(JobFailed) as raised:
            await client.wait(job_id, timeout=10)
    failed = raised.value
    assert KEY not in str(failed)
    assert KEY not in f"{failed.code} {failed.detail} {failed.status!r}"
    assert "[redacted]" in str(failed)


async def fastwait(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("jsonl", [True, False])
async def test_wait_never_prints_an_echoed_key(fake: FakeProvider, jsonl: bool) -> None:
    job_id = fake.create_job("compress", fail=True, terminal_fields=ECHOED["compress"])
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        *(["--jsonl"] if jsonl else []), job_id,
        env={"FASTWAIT_API_KEY": KEY},
    )  # fmt: skip
    assert code == 1
    assert "[redacted]" in out + err
    assert KEY not in out + err


async def test_wait_takes_the_redis_url_from_the_environment_and_hides_its_password(
    fake: FakeProvider,
) -> None:
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        port = refusing.getsockname()[1]
        code, _, err = await fastwait(
            "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
            "--timeout", "3", fake.create_job("compress", duration=0.1),
            env={"FASTWAIT_API_KEY": KEY, "FASTWAIT_REDIS_URL": f"redis://:pw-s3cr3t@127.0.0.1:{port}/7"},
        )  # fmt: skip
    assert code == EXIT_TIMED_OUT
    assert f"127.0.0.1:{port}" in err, "the Redis of FASTWAIT_REDIS_URL was not used"
    assert "pw-s3cr3t" not in err


async def test_an_explicit_state_file_wins_over_the_redis_url_of_the_environment(
    fake: FakeProvider, tmp_path: Path
) -> None:
    code, out, err = await fastwait(
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--state", f"{tmp_path}/state.db", "--jsonl", fake.create_job("compress", duration=0.1),
        env={"FASTWAIT_API_KEY": KEY, "FASTWAIT_REDIS_URL": "redis://127.0.0.1:1/7"},
    )  # fmt: skip
    assert code == 0, err
    assert "SUCCEEDED" in out


async def test_receive_takes_the_redis_url_from_the_environment_and_hides_its_password() -> None:
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        port = refusing.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fastwait", "receive", "--provider", "compress", "--port", "0",
            "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "FASTWAIT_REDIS_URL": f"redis://:pw-s3cr3t@127.0.0.1:{port}/7"},
        )  # fmt: skip
        assert process.stderr is not None
        said = b""
        try:
            async with asyncio.timeout(15):
                while f"127.0.0.1:{port}".encode() not in said:
                    line = await process.stderr.readline()
                    assert line, "the receiver ended without naming the Redis it was given"
                    said += line
        finally:
            process.terminate()
            await process.communicate()
    assert b"pw-s3cr3t" not in said


SIGNATURE = "a3f1c9e0b7d24f6e8a1b2c3d4e5f60718293a4b5"
"""The credential in a pre-signed output URL's query."""


@pytest.fixture
async def storage() -> AsyncIterator[str]:
    """A storage host whose pre-signed output URLs redirect badly: in a loop, or off HTTP."""

    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(str(request.url))

    async def off_http(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"ftp://storage.example/out.jpg?X-Amz-Signature={SIGNATURE}")

    app = web.Application()
    app.router.add_get("/loop/out.jpg", loop)
    app.router.add_get("/off-http/out.jpg", off_http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("redirect", ["loop", "off-http"])
async def test_a_failed_download_never_shows_the_pre_signed_query(
    fake: FakeProvider, storage: str, tmp_path: Path, redirect: str
) -> None:
    url = f"{storage}/{redirect}/out.jpg?X-Amz-Signature={SIGNATURE}"
    job_id = fake.create_job("compressorapp", duration=0.05, terminal_fields={"url": url})
    async with Client(provider_for("compressorapp", fake), policy=FAST) as client:
        status = await client.wait(job_id, timeout=10)
        with pytest.raises(TransportError) as raised:
            await client.download(job_id, tmp_path, status=status)
    assert SIGNATURE not in str(raised.value)
    assert f"/{redirect}/out.jpg" in str(raised.value)


async def test_an_unknown_status_name_never_shows_part_of_an_echoed_key(
    fake: FakeProvider,
) -> None:
    # The name is cut to 40 characters for the message: the key must go before the cut.
    job_id = fake.create_job(
        "compress", duration=0.05, terminal_fields={"status": f"refused-for-key-{KEY}"}
    )
    async with Client(provider_for("compress", fake), policy=FAST) as client:
        with pytest.raises(BadResponseError) as raised:
            await client.wait(job_id, timeout=10)
    assert KEY[:12] not in str(raised.value)
    assert "[redacted]" in str(raised.value)


async def test_a_download_url_whose_host_cannot_be_encoded_is_a_bad_response(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # aiohttp raises UnicodeError (not one of its own errors) for an empty IDNA label.
    url = f"http://storage..example/out.jpg?X-Amz-Signature={SIGNATURE}"
    job_id = fake.create_job("compressorapp", duration=0.05, terminal_fields={"url": url})
    async with Client(provider_for("compressorapp", fake), policy=FAST) as client:
        status = await client.wait(job_id, timeout=10)
        with pytest.raises(BadResponseError) as raised:
            await client.download(job_id, tmp_path, status=status)
    assert SIGNATURE not in str(raised.value)
    assert raised.value.__cause__ is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "echoed",
    [KEY[:-1], KEY[1:], KEY[3:-3], f"{KEY[:12]} {KEY[12:]}"],
    ids=["last-cut", "first-cut", "both-ends-cut", "split"],
)
async def test_a_key_echoed_with_characters_cut_off_is_still_redacted(
    fake: FakeProvider, echoed: str
) -> None:
    fields = {"error": {"code": "key.rejected", "detail": f"the key {echoed} is over quota"}}
    job_id = fake.create_job("compress", fail=True, terminal_fields=fields)
    async with Client(provider_for("compress", fake), policy=FAST) as client:
        with pytest.raises(JobFailed) as raised:
            await client.wait(job_id, timeout=10)
    shown = f"{raised.value} {raised.value.status!r}"
    for run in (KEY[i : i + 10] for i in range(len(KEY) - 10)):
        assert run not in shown
    assert "the key [redacted]" in str(raised.value)
    assert "over quota" in str(raised.value)


async def test_the_jsonl_output_url_carries_no_pre_signed_query(fake: FakeProvider) -> None:
    url = f"https://storage.example/out/output.mp4?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=3600"
    job_id = fake.create_job("compressorapp", duration=0.05, terminal_fields={"url": url})
    code, out, err = await fastwait(
        "wait", "--provider", "compressorapp", "--base-url", fake.base_url("compressorapp"),
        "--jsonl", job_id,
        env={"FASTWAIT_API_KEY": KEY},
    )  # fmt: skip
    assert code == 0, err
    assert SIGNATURE not in out + err
    assert json.loads(out)["output"]["url"] == "https://storage.example/out/output.mp4"
