"""The fake's fault knobs over HTTP, for a fake running in another process."""

from __future__ import annotations

import aiohttp
import pytest

from fastwait.testing import FakeProvider

HEADERS = {"X-Fast-Api-Key": "test-key"}


async def status_of(http: aiohttp.ClientSession, fake: FakeProvider, job_id: str) -> int:
    async with http.get(f"{fake.url}/compress/job/{job_id}", headers=HEADERS) as response:
        return response.status


async def test_fault_knobs_set_over_http_fault_the_next_requests(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress")
    async with http.patch(f"{fake.url}/_fake/faults", json={"error_rate": 1.0}) as response:
        assert (await response.json())["error_rate"] == 1.0
    assert await status_of(http, fake, job_id) == 503
    async with http.get(f"{fake.url}/_fake/faults") as response:
        assert await response.json() == {
            "error_rate": 1.0,
            "rate_limit_rate": 0.0,
            "drop_rate": 0.0,
            "truncate_rate": 0.0,
            "delay": 0.0,
            "retry_after": 1.0,
            "pending": 0,
        }


async def test_exact_failures_queued_over_http_come_first_then_stop(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress")
    failures = {"fail_next": {"count": 2, "status": 429, "retry_after": 3}}
    async with http.patch(f"{fake.url}/_fake/faults", json=failures) as response:
        assert (await response.json())["pending"] == 2
    for _ in range(2):
        async with http.get(f"{fake.url}/compress/job/{job_id}", headers=HEADERS) as response:
            assert (response.status, response.headers["Retry-After"]) == (429, "3")
    assert await status_of(http, fake, job_id) == 200


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 0.5, "drop_rate": 2.0},
        {"error_rate": 0.5, "surprise": 1},
        {"error_rate": True},
        {"error_rate": 0.5, "fail_next": {"count": 1, "status": 200}},
        {"error_rate": 0.5, "fail_next": {"kind": "explode"}},
        [],
    ],
    ids=["rate-above-1", "unknown-knob", "bool", "fail-next-non-error", "fail-next-kind", "list"],
)
async def test_a_bad_fault_setting_is_refused_and_changes_nothing(
    fake: FakeProvider, http: aiohttp.ClientSession, body: object
) -> None:
    async with http.patch(f"{fake.url}/_fake/faults", json=body) as response:
        assert response.status == 400
        assert "error" in await response.json()
    assert (fake.faults.error_rate, fake.faults.pending) == (0.0, 0)


async def test_deleting_the_faults_turns_every_fault_off(
    fake: FakeProvider, http: aiohttp.ClientSession
) -> None:
    job_id = fake.create_job("compress")
    fake.faults.error_rate = 1.0
    fake.faults.fail_next(3)
    async with http.delete(f"{fake.url}/_fake/faults") as response:
        assert (await response.json())["pending"] == 0
    assert await status_of(http, fake, job_id) == 200
