"""Hybrid mode end to end: the fake provider calls a real receiver back; polling is the net."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import pytest

from fastwait import (
    CallbackBindings,
    CallbackTokens,
    Client,
    JobResult,
    JobState,
    PollPolicy,
    Registry,
    StandardWebhookVerifier,
    receiver,
)
from fastwait.exceptions import ConfigurationError
from fastwait.providers import MediaJobs, Provider, ToolsFastCompress
from fastwait.testing import FakeProvider, LogNormalDurations

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# A short safety net so a dropped webhook costs this test about a second, not fifteen.
SAFETY_NET = PollPolicy(safety_net_delay=0.5, blind_step=0.2, blind_growth=0.2, floor=0.05)


async def run_hybrid(
    fake: FakeProvider, provider: Provider, tmp_path: Path, jobs: int
) -> tuple[dict[str, JobResult], collections.Counter[str], Registry]:
    registry = Registry()
    resolutions: collections.Counter[str] = collections.Counter()
    registry.on_resolved(lambda key, resolution: resolutions.update([key[1]]))
    source = tmp_path / ("photo.jpg" if provider.name == "compress" else "clip.mp4")
    source.write_bytes(b"pretend media " * 32)
    bindings = CallbackBindings()
    app = receiver.create_app(
        registry,
        [provider],
        verifier=StandardWebhookVerifier([SECRET]),
        callback_tokens=CallbackTokens(SECRET),
        bindings=bindings,
    )
    async with (
        receiver.serve(app) as url,
        Client(
            provider,
            registry=registry,
            policy=SAFETY_NET,
            callback_url=url,
            webhook_secret=SECRET,
            callback_bindings=bindings,
        ) as client,
    ):
        accepted = await asyncio.gather(*(client.submit(source) for _ in range(jobs)))
        ids = [a.id for a in accepted]
        results = {r.job_id: r async for r in client.as_completed(ids, timeout=30)}
    return results, resolutions, registry


async def test_every_job_resolves_exactly_once_despite_dropped_and_duplicated_webhooks(
    tmp_path: Path,
) -> None:
    durations = LogNormalDurations(median=0.4, sigma=0.5, low=0.1, high=1.5)
    async with FakeProvider(
        seed=11,
        durations=durations,
        failure_rate=0.1,
        webhook_secret=SECRET,
        webhook_drop_rate=0.3,
        webhook_duplicate_rate=0.1,
    ) as fake:
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        results, resolutions, _ = await run_hybrid(fake, provider, tmp_path, jobs=40)
        await fake.flush_webhooks()
        jobs = {job.id: job for job in fake.jobs("compress")}
        deliveries = fake.webhook_deliveries
        assert fake.webhooks_dropped > 0
    assert len(results) == 40
    assert set(resolutions.values()) == {1}
    # Whether a webhook or a poll came first depends on timing, but the receiver took
    # webhooks (those sent after it closed, or a copy racing its twin, may not be), and a job
    # whose webhook was dropped can only have been polled.
    assert any(isinstance(d.result, int) and 200 <= d.result < 300 for d in deliveries)
    called_back = {d.job_id for d in deliveries}
    assert len(called_back) == 40 - fake.webhooks_dropped
    assert {r.source for r in results.values() if r.job_id not in called_back} == {"poll"}
    for job_id, result in results.items():
        assert result.status is not None, result.error
        expected = (
            JobState.SUCCEEDED if jobs[job_id].final_state == "succeeded" else JobState.FAILED
        )
        assert result.status.state is expected


async def test_media_callbacks_use_per_job_tokens(tmp_path: Path) -> None:
    async with FakeProvider(seed=12, durations=0.3) as fake:
        provider = MediaJobs(fake.base_url("media"))
        results, resolutions, _ = await run_hybrid(fake, provider, tmp_path, jobs=5)
        await fake.flush_webhooks()
        urls = {job.callback_url for job in fake.jobs("media")}
    assert all(url and "/callbacks/" in url for url in urls)
    assert len(urls) == 5
    assert {r.source for r in results.values()} == {"webhook"}
    assert set(resolutions.values()) == {1}


def test_a_provider_that_cannot_sign_needs_a_webhook_secret() -> None:
    with pytest.raises(ConfigurationError, match="webhook_secret"):
        Client(MediaJobs("http://127.0.0.1:1"), callback_url="https://example.test/hooks")


def test_callback_url_must_be_absolute_http() -> None:
    with pytest.raises(ConfigurationError, match="callback_url"):
        Client(ToolsFastCompress("k", "http://127.0.0.1:1"), callback_url="/relative")


async def test_a_job_submitted_elsewhere_is_polled_adaptively_by_a_client_with_a_callback() -> None:
    # Nobody told the API to call this client back for it: no webhook will come.
    async with FakeProvider(seed=13, durations=0.2) as fake:
        job_id = fake.create_job("compress")
        provider = ToolsFastCompress("test-key", fake.base_url("compress"))
        policy = PollPolicy(floor=0.05, lag_allowance=0.3, safety_net_delay=60.0)
        async with Client(
            provider, policy=policy, callback_url="https://svc.example.com/fastwait"
        ) as client:
            resolution = await client.wait_resolution(job_id, timeout=5)
    assert resolution.source == "poll"
    assert resolution.status.state is JobState.SUCCEEDED
