"""What a poller learns from the jobs it saw end: pure tables, then one client that learns."""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import time
from collections.abc import AsyncIterator

import pytest
from conftest import ManualClock
from redis_support import RedisHarness, redis_harness

from fastwait import Client, JobState, JobStatus, PollPolicy, Registry, Resolution
from fastwait.polling import Experience, Poller, PollHistory
from fastwait.polling._learning import size_band
from fastwait.providers import CompressorApp
from fastwait.testing import FakeProvider


@pytest.fixture
async def redis() -> AsyncIterator[RedisHarness]:
    async with redis_harness() as harness:
        yield harness


async def never_polled(job_id: str) -> tuple[JobStatus, float | None]:
    raise AssertionError(f"{job_id} was polled")


def finished(
    history: PollHistory, count: int, duration: float, input_bytes: int | None = None
) -> None:
    for _ in range(count):
        history.job_finished(
            submitted_at=0.0,
            ended_after=duration - 0.1,
            ended_by=duration + 0.1,
            input_bytes=input_bytes,
        )


def test_a_bracketed_end_is_remembered_as_its_middle() -> None:
    history = PollHistory()
    finished(history, 25, 4.0)
    assert [round(d, 6) for d in history.experience().durations] == [4.0] * 25


def test_a_job_done_at_its_first_look_may_have_taken_no_time() -> None:
    history = PollHistory()
    for _ in range(25):
        history.job_finished(submitted_at=10.0, ended_after=10.0, ended_by=11.6)
    assert set(history.experience().durations) == {0.0}


def test_an_impossible_bracket_teaches_nothing() -> None:
    history = PollHistory()
    history.job_finished(submitted_at=0.0, ended_after=5.0, ended_by=4.0)
    assert len(history) == 0


def test_durations_need_enough_jobs_before_they_count() -> None:
    few = Experience(durations=(4.0,) * 24)
    assert few.durations_beyond(1.0) == ()
    assert len(Experience(durations=(4.0,) * 25).durations_beyond(1.0)) == 25


def test_durations_beyond_an_age_are_the_longer_ones() -> None:
    experience = Experience(durations=tuple(float(n) for n in range(40)))
    assert experience.durations_beyond(36.5) == (37.0, 38.0, 39.0)


def test_the_history_keeps_only_the_newest_jobs() -> None:
    history = PollHistory(capacity=30)
    finished(history, 30, 1.0)
    finished(history, 30, 9.0)
    assert {round(d, 6) for d in history.experience().durations} == {9.0}


def test_a_job_resolved_by_webhook_teaches_its_exact_duration() -> None:
    history = PollHistory()
    history.job_resolved_elsewhere(submitted_at=3.0, ended_at=10.5)
    assert history.experience().durations == (7.5,)


@pytest.mark.parametrize(
    ("input_bytes", "band"),
    [(None, None), (0, None), (500, 0), (1024, 0), (4096, 1), (5_000_000, 6), (20_000_000, 7)],
)
def test_input_sizes_fall_in_bands_of_a_factor_of_four(input_bytes: int | None, band: int) -> None:
    assert size_band(input_bytes) == band


def test_durations_are_learned_per_input_size() -> None:
    history = PollHistory()
    finished(history, 30, 1.0, input_bytes=100_000)
    finished(history, 30, 20.0, input_bytes=50_000_000)
    assert {round(d, 6) for d in history.experience(60_000_000).durations} == {20.0}
    assert {round(d, 6) for d in history.experience(90_000).durations} == {1.0}
    assert len(history.experience(2_000_000).durations) == 60  # a size never seen: every job


def test_readings_are_learned_as_shares_of_the_time_from_the_origin() -> None:
    history = PollHistory()
    history.job_finished(
        submitted_at=0.0,
        ended_after=9.9,
        ended_by=10.1,
        origin=2.0,
        readings=[(4.0, 20.0), (6.0, 50.0), (8.0, 0.0)],
    )
    history.job_finished(submitted_at=0.0, ended_after=9.9, ended_by=10.1, readings=[(5.0, 30.0)])
    experience = history.experience()
    assert experience.readings_from_sighting == ((20.0, 0.25), (50.0, 0.5))
    assert experience.readings_from_submission == ((30.0, 0.5),)


def test_a_percent_is_read_through_its_nearest_learned_readings() -> None:
    pairs = tuple((p / 2.0, p / 400.0) for p in range(200))  # percents 0-99.5, half a point apart
    experience = Experience(readings_from_submission=pairs)
    shares = experience.elapsed_shares(50.0, from_sighting=False)
    assert sorted(shares) == [(50.0 + n / 2.0) / 200.0 for n in range(-12, 13)]
    assert experience.elapsed_shares(50.0, from_sighting=True) == ()


def test_far_away_readings_say_nothing_about_a_percent() -> None:
    pairs = tuple((10.0 + 0.01 * n, 0.5) for n in range(30))
    experience = Experience(readings_from_submission=pairs)
    assert len(experience.elapsed_shares(12.0, from_sighting=False)) == 25
    assert experience.elapsed_shares(60.0, from_sighting=False) == ()


def test_a_snapshot_is_rebuilt_once_an_eighth_of_it_is_new() -> None:
    history = PollHistory()
    finished(history, 96, 2.0)
    assert len(history.experience().durations) == 96
    finished(history, 11, 2.0)
    assert len(history.experience().durations) == 96  # reading stays a lookup
    finished(history, 1, 2.0)
    assert len(history.experience().durations) == 108


def test_a_history_smaller_than_a_neighbourhood_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        PollHistory(capacity=10)


async def test_a_client_learns_the_durations_of_the_jobs_it_saw_end() -> None:
    # How many requests this saves on later jobs is measured by the polling benchmark's warm
    # client against its cold one (`python -m tests.benchmarks polling`).
    policy = PollPolicy(
        blind_first_poll=0.2, lag_allowance=0.3, blind_step=0.08, blind_growth=0.0, floor=0.02
    )
    async with FakeProvider(seed=21, durations=0.6) as fake:
        provider = CompressorApp("test-key", fake.base_url("compressorapp"))
        async with Client(provider, policy=policy) as client:
            started = time.monotonic()
            job_ids = [fake.create_job("compressorapp") for _ in range(30)]
            assert all([r.succeeded async for r in client.as_completed(job_ids, timeout=20)])
            waited = time.monotonic() - started
            assert client._poller is not None
            learned = client._poller.history.experience().durations
    assert len(learned) == 30
    # Each is the middle of a bracket around the job's end, which came within the wait.
    assert all(0 < duration <= waited for duration in learned), learned


async def test_a_poller_learns_the_duration_of_a_job_a_webhook_resolved() -> None:
    clock = ManualClock(100.0)
    registry = Registry()
    async with Poller(
        "compress", never_polled, registry, reports_progress=True, clock=clock
    ) as poller:
        poller.track("job-1", submitted_at=93.0)
        status = JobStatus(id="job-1", provider="compress", state=JobState.SUCCEEDED)
        await registry.publish(status, source="webhook")
    assert poller.history.experience().durations == pytest.approx((7.0,), abs=0.1)
    assert not poller.is_tracked("job-1")


@pytest.mark.redis
async def test_a_result_stored_long_ago_teaches_when_it_was_stored_not_when_it_was_found(
    redis: RedisHarness,
) -> None:
    key = ("compress", "job-1")
    hours_ago = 3 * 3600.0
    status = JobStatus(id=key[1], provider=key[0], state=JobState.SUCCEEDED)
    # A webhook stored the result 7 s after the job's submission, three hours ago.
    stored = Resolution(status, "webhook", resolved_at=time.time() - hours_ago + 7.0)
    await redis.store().put_first(key, stored)

    clock = ManualClock(50_000.0)
    async with Registry(redis.store()) as registry:
        found = asyncio.Event()
        registry.on_resolved(lambda _key, _resolution: found.set())
        async with Poller(
            "compress", never_polled, registry, reports_progress=True, clock=clock
        ) as poller:
            poller.track(key[1], submitted_at=clock.now - hours_ago)
            await found.wait()  # the first look at the shared store found and delivered it
            (learned,) = poller.history.experience().durations
    assert learned == pytest.approx(7.0, abs=1.0)


def _nearest_by_walking(
    pairs: tuple[tuple[float, float], ...], percent: float
) -> tuple[float, ...]:
    """The rule elapsed_shares keeps, walked out reading by reading from ``percent``: the
    nearer reading first, the lower percent on a tie; nothing if one is over 10 points away."""
    right = bisect.bisect_left(pairs, (percent, -math.inf))
    left = right - 1
    shares: list[float] = []
    while len(shares) < 25:
        take_left = left >= 0 and (
            right >= len(pairs) or percent - pairs[left][0] <= pairs[right][0] - percent
        )
        if take_left:
            near, left = pairs[left], left - 1
        else:
            near, right = pairs[right], right + 1
        if abs(near[0] - percent) > 10.0:
            return ()
        shares.append(near[1])
    return tuple(shares)


@pytest.mark.parametrize("seed", range(40))
def test_the_nearest_readings_are_those_a_walk_outwards_finds(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(25, 120)
    grid = rng.choice([0.5, 1.0, 3.0])  # coarse grids make ties and repeated percents
    pairs = tuple(
        sorted((round(rng.uniform(0, 100) / grid) * grid, rng.random()) for _ in range(count))
    )
    experience = Experience(readings_from_submission=pairs)
    for percent in [rng.uniform(-5, 105) for _ in range(30)] + [p for p, _ in pairs[:10]]:
        shares = experience.elapsed_shares(percent, from_sighting=False)
        assert sorted(shares) == sorted(_nearest_by_walking(pairs, percent)), percent
