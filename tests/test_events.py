"""The event hook: every source reports what it does, as typed values, through the registry."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
import seed_payloads as seeds

from fastwait import (
    Client,
    JobState,
    NotFoundError,
    PollPolicy,
    Registry,
    StandardWebhookSigner,
    StandardWebhookVerifier,
)
from fastwait.events import (
    Event,
    JobResolved,
    PollFailed,
    PollSent,
    StatusSeen,
    WebhookAccepted,
    WebhookRefused,
)
from fastwait.providers import ToolsFastCompress
from fastwait.receiver import create_app, serve
from fastwait.registry._sqlite import SQLiteResultStore
from fastwait.testing import FakeProvider

FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, ceiling=0.5, target_lag=0.05)
SECRET = "whsec_" + base64.b64encode(b"event-tests-hmac-secret-01234567").decode()


E = TypeVar("E")


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


async def test_a_polled_job_reports_each_poll_each_status_and_one_resolution(
    fake: FakeProvider,
) -> None:
    events: list[Event] = []
    job_id = fake.create_job("compress", duration=0.4)
    async with (
        Registry(on_event=events.append) as registry,
        Client(
            ToolsFastCompress("test-key", fake.base_url("compress")),
            registry=registry,
            policy=FAST,
        ) as client,
    ):
        started = time.monotonic()
        await client.wait(job_id, timeout=10)
        waited = time.monotonic() - started
        polls = client.poll_stats(job_id)
    assert polls is not None
    sent = of_type(events, PollSent)
    assert [event.poll for event in sent] == list(range(1, polls.polls + 1))
    assert {(event.provider, event.job_id) for event in sent} == {("compress", job_id)}
    seen = of_type(events, StatusSeen)
    assert len(seen) == polls.polls
    assert {event.source for event in seen} == {"poll"}
    assert seen[-1].state is JobState.SUCCEEDED
    assert any(event.percent is not None and 0 < event.percent < 100 for event in seen[:-1])
    [resolved] = of_type(events, JobResolved)
    assert (resolved.job_id, resolved.state, resolved.source) == (
        job_id,
        JobState.SUCCEEDED,
        "poll",
    )
    # The time since the previous poll saw the job running: within the wait, whatever the
    # load (how small it is, is measured by `python -m tests.benchmarks polling`).
    assert resolved.lag is not None
    assert 0 <= resolved.lag <= waited
    assert events[-1] == resolved


async def test_the_lag_of_a_job_awaited_long_after_its_submission_counts_from_the_await(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # A run that crashed an hour ago journaled the job; it ended meanwhile, unobserved.
    job_id = fake.create_job("compress", duration=0.0)
    state = tmp_path / "state.db"
    async with SQLiteResultStore(state) as journal:
        journal.job_tracked(
            ("compress", job_id), submitted_at=time.time() - 3600, webhook_expected=False
        )
    events: list[Event] = []
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with (
        Registry(state=state, on_event=events.append) as registry,
        Client(api, registry=registry, policy=FAST) as client,
    ):
        started = time.monotonic()
        assert await client.resume() == [job_id]
        await client.wait(job_id, timeout=10)
        waited = time.monotonic() - started
    [resolved] = of_type(events, JobResolved)
    assert resolved.lag is not None
    assert 0 <= resolved.lag <= waited  # not the hour since its submission


async def test_a_transient_error_is_reported_as_a_failed_poll_that_is_retried(
    fake: FakeProvider,
) -> None:
    events: list[Event] = []
    job_id = fake.create_job("compress", duration=0.1)
    fake.faults.fail_next(1, status=503)
    async with (
        Registry(on_event=events.append) as registry,
        Client(
            ToolsFastCompress("test-key", fake.base_url("compress")),
            registry=registry,
            policy=FAST,
        ) as client,
    ):
        await client.wait(job_id, timeout=10)
    [failed] = of_type(events, PollFailed)
    assert failed.transient
    assert getattr(failed.error, "status", None) == 503
    assert len(of_type(events, JobResolved)) == 1


async def test_a_permanent_error_is_reported_as_a_failed_poll_that_is_not_retried(
    fake: FakeProvider,
) -> None:
    events: list[Event] = []
    missing = "019c56457340753ba9441d7b4e6516a0"
    async with (
        Registry(on_event=events.append) as registry,
        Client(
            ToolsFastCompress("test-key", fake.base_url("compress")),
            registry=registry,
            policy=FAST,
        ) as client,
    ):
        with pytest.raises(NotFoundError):
            await client.wait(missing, timeout=10)
    [failed] = of_type(events, PollFailed)
    assert (failed.job_id, failed.transient) == (missing, False)
    assert isinstance(failed.error, NotFoundError)
    assert of_type(events, JobResolved) == []


@pytest.fixture
async def receiving() -> AsyncIterator[tuple[list[Event], str, aiohttp.ClientSession]]:
    """A served receiver whose registry records events, its URL, and a session to post with."""
    events: list[Event] = []
    async with Registry(on_event=events.append) as registry:
        app = create_app(
            registry,
            [ToolsFastCompress("test-api-key")],
            verifier=StandardWebhookVerifier([SECRET]),
        )
        async with serve(app) as url, aiohttp.ClientSession() as session:
            yield events, url, session


async def post_signed(session: aiohttp.ClientSession, url: str, msg_id: str) -> int:
    body = json.dumps(seeds.TF_COMPRESS_STATUS).encode()
    headers = {
        **StandardWebhookSigner(SECRET).headers(msg_id, body),
        "Content-Type": "application/json",
    }
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def test_a_webhook_reports_its_acceptance_its_status_and_the_resolution_with_its_lag(
    receiving: tuple[list[Event], str, aiohttp.ClientSession],
) -> None:
    events, url, session = receiving
    started = time.time()
    assert await post_signed(session, f"{url}/hooks/compress", "msg_1") == 200
    since_signed = time.time() - started
    assert events[0] == StatusSeen("compress", seeds.TF_JOB_ID, JobState.SUCCEEDED, 100, "webhook")
    resolved = events[1]
    assert isinstance(resolved, JobResolved)
    assert (resolved.job_id, resolved.source) == (seeds.TF_JOB_ID, "webhook")
    assert resolved.lag is not None
    assert 0 <= resolved.lag <= since_signed + 1  # the signature's timestamp is in seconds
    assert events[2:] == [WebhookAccepted("compress", seeds.TF_JOB_ID, duplicate=False)]


async def test_a_duplicate_webhook_is_reported_as_a_duplicate(
    receiving: tuple[list[Event], str, aiohttp.ClientSession],
) -> None:
    events, url, session = receiving
    for _ in range(2):
        assert await post_signed(session, f"{url}/hooks/compress", "msg_twice") == 200
    assert of_type(events, WebhookAccepted)[-1] == WebhookAccepted("compress", None, duplicate=True)
    assert len(of_type(events, JobResolved)) == 1


async def test_a_refused_webhook_is_reported_with_its_status_and_reason(
    receiving: tuple[list[Event], str, aiohttp.ClientSession],
) -> None:
    events, url, session = receiving
    forged = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": "1",
        "webhook-signature": "v1,AAAA",
    }
    async with session.post(f"{url}/hooks/compress", json={}, headers=forged) as response:
        assert response.status == 401
    async with session.post(f"{url}/hooks/no-such-api", json={}) as response:
        assert response.status == 404
    assert events == [
        WebhookRefused("compress", 401, "invalid_signature"),
        WebhookRefused(None, 404, "unknown_provider"),  # a name from the request is no label
    ]


async def test_a_hook_that_raises_never_disturbs_waiting(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("metrics backend down")

    job_id = fake.create_job("compress", duration=0.1)
    async with (
        Registry(on_event=broken) as registry,
        Client(
            ToolsFastCompress("test-key", fake.base_url("compress")),
            registry=registry,
            policy=FAST,
        ) as client,
    ):
        status = await client.wait(job_id, timeout=10)
    assert status.state is JobState.SUCCEEDED
    assert "event hook failed on PollSent" in caplog.text


def test_events_are_frozen_values() -> None:
    event = PollSent("compress", "job", 1)
    assert event == PollSent("compress", "job", 1)
    with pytest.raises(AttributeError):
        event.poll = 2  # type: ignore[misc]


async def test_without_a_hook_the_sources_report_nothing_and_work_as_before(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = fake.create_job("compress", duration=0.1)
    with caplog.at_level(logging.DEBUG, logger="fastwait.events"):
        async with Client(
            ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST
        ) as client:
            assert client.registry.on_event is None
            await client.wait(job_id, timeout=10)
    assert caplog.records == []
