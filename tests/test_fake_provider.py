"""fastwait.testing.FakeProvider speaks the four job APIs as the seed documents specify.

Plain aiohttp requests against the real loopback server; job states are driven by a
ManualClock, so no test sleeps.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import seed_payloads as seeds
from aiohttp import web
from conftest import ManualClock
from standardwebhooks.webhooks import Webhook

import fastwait.testing
from fastwait.testing import FakeProvider, LogNormalDurations
from fastwait.testing.__main__ import _parser as standalone_parser

TOOLS_FAST_AUTH = {"X-Fast-Api-Key": "test-key"}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def keys(payload: Any) -> Any:
    """The nested key structure of a JSON value: what 'the seed's payload shape' means here."""
    if isinstance(payload, dict):
        return {key: keys(value) for key, value in payload.items()}
    return None


def upload(field: str, name: str, size: int, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, io.BytesIO(b"\x00" * size), filename=name)
    for key, value in fields.items():
        form.add_field(key, value)
    return form


async def get_json(
    http: aiohttp.ClientSession, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.get(url, **kwargs) as response:
        return response.status, await response.json()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook receiver on 127.0.0.1: its URL and the (headers, body) of each POST it got."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/hook", received
    await runner.cleanup()


def test_exported_names() -> None:
    assert fastwait.testing.__all__ == sorted(fastwait.testing.__all__)
    assert {"FakeJob", "FakeProvider", "Faults", "LogNormalDurations"} <= set(
        fastwait.testing.__all__
    )


async def test_requests_without_valid_credentials_are_rejected(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeProvider(media_token="media-token") as fake:
        compress = fake.create_job("compress")
        status, body = await get_json(
            http, f"{fake.url}/compress/job/{compress}", headers={"X-Fast-Api-Key": "nope"}
        )
        assert (status, body["error"]) == (401, "api_key.invalid_or_ip_not_allowed")
        assert set(body) == {"error", "detail"}

        app = fake.create_job("compressorapp")
        status, body = await get_json(
            http,
            f"{fake.base_url('compressorapp')}/jobs/{app}",
            headers={"Authorization": aiohttp.encode_basic_auth("nope")},
        )
        assert (status, body["success"]) == (401, False)

        media = fake.create_job("media")
        status, body = await get_json(http, f"{fake.url}/api/media/jobs/{media}")
        assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_compress_job_goes_queued_running_succeeded(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock, queue_time=1.0, durations=2.0, seed=1) as fake:
        async with http.post(
            f"{fake.url}/compress",
            data=upload("file", "photo.jpg", 10_000),
            headers=TOOLS_FAST_AUTH,
        ) as response:
            assert response.status == 202
            accepted = await response.json()
            job_id = accepted["id"]
            assert response.headers["Location"] == f"/compress/job/{job_id}"
        assert keys(accepted) == keys(seeds.TF_ACCEPTED)
        assert (accepted["status"], accepted["fileName"], accepted["format"]) == (
            "Queued",
            "photo",
            "jpg",
        )
        assert accepted["queue"]["estimate"] == "< 5s"
        assert re.fullmatch(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", job_id)
        assert abs(int(job_id[:12], 16) - time.time() * 1000) < 60_000

        url = f"{fake.url}/compress/job/{job_id}"
        seen = []
        for step in (0.0, 2.0, 1.0):
            clock.advance(step)
            status, body = await get_json(http, url, headers=TOOLS_FAST_AUTH)
            assert status == 200
            seen.append((body["status"], body["progress"]["percent"]))
        assert [s for s, _ in seen] == ["Queued", "Running", "Succeeded"]
        assert seen[0][1] == 0
        assert 0 <= seen[1][1] <= 99
        assert seen[2][1] == 100
        assert keys(body) == keys(seeds.TF_COMPRESS_STATUS)
        assert body["output"] == {
            "fileName": "photo-compressed.jpg",
            "contentType": "image/jpeg",
            "fileCount": 1,
        }
        assert body["metrics"]["inputBytes"] == 10_000
        assert fake.job("compress", job_id).terminal_seen_at == clock.now

        async with http.get(f"{url}/download", headers=TOOLS_FAST_AUTH) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            cd = 'attachment; filename="photo-compressed.jpg"'
            assert response.headers["Content-Disposition"] == cd
            assert len(await response.read()) == body["metrics"]["outputBytes"] == 4096
        assert fake.job("compress", job_id).requests == 4


async def test_convert_pdf_to_jpg_downloads_a_zip_of_pages(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock, durations=1.0, multi_output_pages=3) as fake:
        form = upload("file", "report.pdf", 5000, targetFormat="jpg")
        async with http.post(f"{fake.url}/convert", data=form, headers=TOOLS_FAST_AUTH) as r:
            job_id = (await r.json())["id"]
        clock.advance(1.0)
        url = f"{fake.url}/convert/job/{job_id}"
        _, body = await get_json(http, url, headers=TOOLS_FAST_AUTH)
        assert keys(body) == keys(seeds.TF_CONVERT_STATUS)
        name = "convert.fast-pdf-to-jpg-report-3-outputs.zip"
        assert body["output"] == {
            "fileName": name,
            "contentType": "application/zip",
            "fileCount": 3,
        }
        async with http.get(f"{url}/download", headers=TOOLS_FAST_AUTH) as response:
            assert response.headers["Content-Type"] == "application/zip"
            assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
            archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        assert archive.namelist() == ["report-1.jpg", "report-2.jpg", "report-3.jpg"]
        assert archive.testzip() is None


async def test_compressorapp_output_sha1_matches_the_served_bytes(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeProvider(compressorapp_retry_after=2) as fake:
        running = fake.create_job("compressorapp", duration=60)
        done = fake.create_job("compressorapp", file_name="input.mp4", duration=0)
        base = fake.base_url("compressorapp")
        basic = {"Authorization": aiohttp.encode_basic_auth("test-key", "any password")}
        async with http.get(f"{base}/jobs/{running}", headers=basic) as r:
            assert await r.json() == {"id": running, "status": "processing"}
            assert r.headers["Retry-After"] == "2"
        bearer = {"Authorization": "Bearer test-key"}
        status, body = await get_json(http, f"{base}/jobs/{done}", headers=bearer)
        assert status == 200
        assert keys(body) == keys(seeds.COMPRESSORAPP_COMPLETED)
        assert body["url"].startswith(f"{fake.url}/")
        assert body["url"].endswith(f"/{done}/output.mp4")
        async with http.get(body["url"], headers=bearer) as response:
            data = await response.read()
        assert hashlib.sha1(data).hexdigest() == body["output"]["sha1"]
        assert len(data) == body["output"]["size"]

        fake.corrupt_output("compressorapp", done)
        async with http.get(body["url"], headers=bearer) as response:
            assert hashlib.sha1(await response.read()).hexdigest() != body["output"]["sha1"]


async def test_media_job_is_submitted_polled_and_downloaded(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock, queue_time=1.0, durations=1.0) as fake:
        jobs = f"{fake.url}/api/media/jobs"
        async with http.post(jobs, data=upload("file", "clip.mp4", 10)) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid-input"
        form = upload("media", "clip.mp4", 4_200_000, preset="low-bandwidth")
        async with http.post(jobs, data=form) as response:
            assert response.status == 202
            accepted = await response.json()
        assert keys(accepted) == keys(seeds.MEDIA_ACCEPTED)
        url = f"{jobs}/{accepted['jobId']}"
        statuses = []
        for _ in range(3):
            _status, body = await get_json(http, url)
            statuses.append(body["status"])
            clock.advance(1.0)
        assert statuses == ["pending", "processing", "done"]
        assert keys(body) == keys(seeds.MEDIA_DONE)
        assert body["result"]["filename"] == "clip.webm"
        assert body["downloadUrl"] == f"{url}/download"
        async with http.get(body["downloadUrl"]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "video/webm"
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["Content-Disposition"] == 'attachment; filename="clip.webm"'


async def test_download_after_expire_is_410(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress", duration=0)
    url = f"{fake.url}/compress/job/{job_id}"
    fake.expire("compress", job_id)
    async with http.get(f"{url}/download", headers=TOOLS_FAST_AUTH) as response:
        assert response.status == 410
        assert (await response.json())["error"] == "jobs.expired"
    _, body = await get_json(http, url, headers=TOOLS_FAST_AUTH)
    assert (body["status"], body["output"]) == ("Succeeded", None)


async def test_cancel_and_delete_answer_as_the_seeds_say(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("convert", duration=60)
    url = f"{fake.url}/convert/job/{job_id}"
    async with http.delete(url, headers=TOOLS_FAST_AUTH) as response:
        assert (response.status, (await response.json())["error"]) == (409, "jobs.not_deletable")
    async with http.post(f"{url}/cancel", headers=TOOLS_FAST_AUTH) as response:
        assert response.status == 202
        assert response.headers["Location"] == f"/convert/job/{job_id}"
        assert await response.read() == b""
    async with http.post(f"{url}/cancel", headers=TOOLS_FAST_AUTH) as response:
        assert (response.status, (await response.json())["error"]) == (409, "jobs.not_cancellable")
    async with http.delete(url, headers=TOOLS_FAST_AUTH) as response:
        assert response.status == 204
    status, body = await get_json(http, url, headers=TOOLS_FAST_AUTH)
    assert (status, body) == (404, seeds.TF_ERROR_NOT_FOUND)


async def test_fail_next_answers_503_then_recovers(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress")
    url = f"{fake.url}/compress/job/{job_id}"
    fake.faults.fail_next(1)
    fake.faults.fail_next(1, status=429, retry_after=0.25)
    async with http.get(url, headers=TOOLS_FAST_AUTH) as response:
        assert response.status == 503
        assert "Retry-After" not in response.headers
        assert set(await response.json()) == {"error", "detail"}
    async with http.get(url, headers=TOOLS_FAST_AUTH) as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "0.25")
    async with http.get(url, headers=TOOLS_FAST_AUTH) as response:
        assert response.status == 200
    assert fake.job("compress", job_id).requests == 3


async def test_dropped_and_truncated_responses_fail_on_the_client(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress")
    url = f"{fake.url}/compress/job/{job_id}"
    fake.faults.fail_next(2, kind="drop")  # aiohttp retries an idempotent request once
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get_json(http, url, headers=TOOLS_FAST_AUTH)
    assert fake.job("compress", job_id).requests == 2
    fake.faults.fail_next(4, kind="truncate")
    for _ in range(4):  # both Content-Length and chunked truncation occur
        with pytest.raises((aiohttp.ClientPayloadError, json.JSONDecodeError)):
            await get_json(http, url, headers=TOOLS_FAST_AUTH)
    status, _ = await get_json(http, url, headers=TOOLS_FAST_AUTH)
    assert status == 200


async def test_control_routes_create_and_report_jobs(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{fake.url}/_fake/jobs", json={"provider": "media", "count": 3, "duration": 0}
    ) as response:
        ids = (await response.json())["ids"]
    assert len(ids) == 3
    await get_json(http, f"{fake.url}/api/media/jobs/{ids[0]}")
    _, listed = await get_json(http, f"{fake.url}/_fake/jobs?provider=media")
    rows = {row["id"]: row for row in listed["jobs"]}
    assert set(rows) == set(ids)
    assert rows[ids[0]]["requests"] == 1
    assert rows[ids[0]]["terminal_seen_at"] is not None
    assert rows[ids[1]]["final_state"] == "succeeded"
    _, clock = await get_json(http, f"{fake.url}/_fake/clock")
    assert clock["now"] >= rows[ids[0]]["completes_at"]
    assert fake.request_count == 1


async def test_webhook_is_posted_once_at_terminal_time_and_signed(
    http: aiohttp.ClientSession,
    clock: ManualClock,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    async with FakeProvider(clock=clock, durations=1.0, webhook_secret=SECRET) as fake:
        job_id = fake.create_job("compress", callback_url=url)
        await fake.flush_webhooks()
        assert received == []
        clock.advance(1.0)
        await fake.flush_webhooks()
        await fake.flush_webhooks()
        [(headers, body)] = received
        _, status = await get_json(
            http, f"{fake.url}/compress/job/{job_id}", headers=TOOLS_FAST_AUTH
        )
        assert json.loads(body) == status
        Webhook(SECRET).verify(body, headers)
        assert fake.webhook_deliveries == [("compress", job_id, url, 204)]


def test_the_standalone_fake_takes_a_log_normal_model_by_median_sigma_and_max() -> None:
    durations = standalone_parser().parse_args(["--durations", "lognormal:8,0.4,20"]).durations
    assert durations == LogNormalDurations(median=8.0, sigma=0.4, high=20.0)


@pytest.mark.parametrize("text", ["lognormal:8", "lognormal:0,0.4", "lognormal:8,x", "normal:8,1"])
def test_the_standalone_fake_refuses_a_malformed_duration_model(text: str) -> None:
    with pytest.raises(SystemExit):
        standalone_parser().parse_args(["--durations", text])


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("compress", "/compress/job/{}"),
        ("compressorapp", "/1.0/jobs/{}"),
        ("media", "/api/media/jobs/{}"),
    ],
)
async def test_terminal_fields_are_laid_over_the_status_once_the_job_ended(
    http: aiohttp.ClientSession, clock: ManualClock, name: str, path: str
) -> None:
    headers = {**TOOLS_FAST_AUTH, "Authorization": "Bearer test-key"}
    async with FakeProvider(clock=clock, durations=1.0) as fake:
        job_id = fake.create_job(name, terminal_fields={"odd": float("inf"), "status": "x"})
        url = fake.url + path.format(job_id)
        _, running = await get_json(http, url, headers=headers)
        clock.advance(2.0)
        async with http.get(url, headers=headers) as response:
            ended = json.loads(await response.read())
    assert "odd" not in running
    assert running["status"] != "x"
    assert ended["odd"] == float("inf")
    assert ended["status"] == "x"
