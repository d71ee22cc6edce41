"""The fake's job models: queued phases, progress curves, noise, part-way failures, per job.

The curves and plans are pure and tested as tables; what a client sees is tested over real HTTP
against the fake, with a ManualClock so no test sleeps.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from conftest import ManualClock

from fastwait.exceptions import ConfigurationError
from fastwait.testing import (
    ALL_CURVES,
    FakeProvider,
    JobModel,
    JobPlan,
    LogNormalDurations,
    ProgressCurve,
)

AUTH = {"X-Fast-Api-Key": "test-key"}


async def reading(http: aiohttp.ClientSession, fake: FakeProvider, job_id: str) -> Any:
    async with http.get(f"{fake.url}/compress/job/{job_id}", headers=AUTH) as response:
        body = await response.json()
    return body["status"], body["progress"]["percent"]


@pytest.mark.parametrize(
    ("curve", "fraction", "work"),
    [
        (ProgressCurve.STRAIGHT, 0.3, 0.3),
        (ProgressCurve.FAST_START, 0.5, 0.75),
        (ProgressCurve.SLOW_START, 0.5, 0.25),
        (ProgressCurve.STAGES, 0.2, 0.0),
        (ProgressCurve.STAGES, 0.6, 0.5),
        (ProgressCurve.STALL, 0.3, 0.4),
        (ProgressCurve.STALL, 0.6, 0.8),
        (ProgressCurve.STALL, 0.95, 0.8),
        (ProgressCurve.SLOW_START, 1.0, 1.0),
        (ProgressCurve.STAGES, 1.0, 1.0),
        (ProgressCurve.STRAIGHT, 1.7, 1.0),
        (ProgressCurve.FAST_START, -0.2, 0.0),
    ],
)
def test_curves_map_running_time_to_work_done(
    curve: ProgressCurve, fraction: float, work: float
) -> None:
    assert curve.work_done(fraction) == pytest.approx(work)


def test_every_curve_starts_at_zero_ends_at_one_and_never_goes_back() -> None:
    steps = [i / 100 for i in range(101)]
    for curve in ALL_CURVES:
        done = [curve.work_done(step) for step in steps]
        assert (done[0], done[-1]) == (0.0, 1.0)
        assert done == sorted(done), curve


def test_a_plan_splits_the_duration_into_queue_and_run() -> None:
    model = JobModel(durations=10.0, queue_share=0.2, queue_time=1.0)
    assert model.plan(random.Random(0)) == JobPlan(queued=3.0, planned_end=11.0)


def test_a_failing_job_ends_within_its_failure_window() -> None:
    model = JobModel(durations=10.0, failure_rate=1.0, failure_window=(0.2, 0.5))
    for seed in range(20):
        plan = model.plan(random.Random(seed))
        assert plan.fails_at is not None
        assert 0.2 <= plan.fails_at <= 0.5
        assert 2.0 <= plan.ends <= 5.0 < plan.planned_end


def test_failures_come_at_the_planned_end_by_default() -> None:
    plan = JobModel(durations=4.0, failure_rate=1.0).plan(random.Random(0))
    assert (plan.fails_at, plan.ends) == (1.0, 4.0)


def test_a_mix_of_curves_draws_each_of_them() -> None:
    model = JobModel(curves=ALL_CURVES)
    rng = random.Random(3)
    assert {model.plan(rng).curve for _ in range(200)} == set(ALL_CURVES)


def test_plans_repeat_for_a_seed() -> None:
    model = JobModel(
        durations=LogNormalDurations(median=4, sigma=1.0, high=40),
        queue_share=0.2,
        curves=ALL_CURVES,
        failure_rate=0.3,
        failure_window=(0.2, 1.0),
    )
    first = [model.plan(random.Random(7)) for _ in range(3)]
    assert first == [model.plan(random.Random(7)) for _ in range(3)]


def test_given_values_replace_the_draws() -> None:
    model = JobModel(durations=LogNormalDurations(), curves=ALL_CURVES, failure_rate=0.5)
    plan = model.plan(
        random.Random(1), duration=2.0, fail=True, fails_at=0.5, curve=ProgressCurve.STALL
    )
    assert plan == JobPlan(queued=0.0, planned_end=2.0, curve=ProgressCurve.STALL, fails_at=0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"queue_share": 1.0},
        {"queue_share": -0.1},
        {"queue_time": -1.0},
        {"progress_noise": float("nan")},
        {"failure_rate": 1.5},
        {"failure_window": (0.0, 1.0)},
        {"failure_window": (0.8, 0.4)},
        {"curves": ()},
        {"curves": ("straight",)},
        {"durations": -1.0},
        {"durations": "3"},
    ],
)
def test_invalid_models_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        JobModel(**kwargs)


def test_invalid_plan_arguments_are_rejected() -> None:
    model = JobModel()
    with pytest.raises(ConfigurationError):
        model.plan(random.Random(0), duration=-1.0)
    with pytest.raises(ConfigurationError):
        model.plan(random.Random(0), fails_at=0.0)


def test_the_fake_refuses_a_model_and_shortcuts_together() -> None:
    with pytest.raises(ConfigurationError, match="either job_model"):
        FakeProvider(job_model=JobModel(), durations=2.0)


async def test_a_queued_share_reports_zero_percent_then_progress(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    model = JobModel(durations=10.0, queue_share=0.2, progress_noise=0.0)
    async with FakeProvider(clock=clock, job_model=model) as fake:
        job_id = fake.create_job("compress")
        clock.advance(1.9)
        assert await reading(http, fake, job_id) == ("Queued", 0)
        clock.advance(4.1)  # 6 s: half of the 8 s run
        assert await reading(http, fake, job_id) == ("Running", 50.0)
        clock.advance(4.0)
        assert await reading(http, fake, job_id) == ("Succeeded", 100)


async def test_each_job_follows_its_own_curve(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock, progress_noise=0.0, durations=10.0) as fake:
        slow = fake.create_job("compress", curve=ProgressCurve.SLOW_START)
        stalled = fake.create_job("compress", curve=ProgressCurve.STALL)
        clock.advance(9.0)
        assert await reading(http, fake, slow) == ("Running", 81.0)
        assert await reading(http, fake, stalled) == ("Running", 80.0)
        assert fake.job("compress", stalled).curve is ProgressCurve.STALL


async def test_a_per_job_model_replaces_the_fakes(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock, durations=1.0) as fake:
        job_id = fake.create_job("compress", model=JobModel(durations=10.0, queue_share=0.5))
        clock.advance(4.0)
        assert (await reading(http, fake, job_id))[0] == "Queued"
        assert fake.job("compress", job_id).completes_at == pytest.approx(clock.now + 6.0)


async def test_a_job_failing_part_way_keeps_the_percent_it_reached(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    model = JobModel(
        durations=10.0, failure_rate=1.0, failure_window=(0.4, 0.4), progress_noise=0.0
    )
    async with FakeProvider(clock=clock, job_model=model) as fake:
        job_id = fake.create_job("compress")
        clock.advance(3.9)
        assert await reading(http, fake, job_id) == ("Running", 39.0)
        clock.advance(0.2)
        assert await reading(http, fake, job_id) == ("Failed", 40.0)


async def test_noise_repeats_for_a_seed(http: aiohttp.ClientSession, clock: ManualClock) -> None:
    async def readings(seed: int) -> list[Any]:
        start = clock.now
        async with FakeProvider(clock=clock, seed=seed, durations=10.0) as fake:
            job_id = fake.create_job("compress")
            seen = []
            for _ in range(5):
                clock.advance(1.0)
                seen.append(await reading(http, fake, job_id))
        clock.now = start
        return seen

    first = await readings(5)
    assert first == await readings(5)
    assert first != await readings(6)
    assert all(abs(percent - 10 * (n + 1)) <= 5 for n, (_, percent) in enumerate(first))


async def test_control_route_creates_jobs_with_a_curve_and_a_failure_point(
    http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeProvider(clock=clock) as fake:
        body = {"provider": "compress", "duration": 10, "fail": True, "fails_at": 0.5}
        async with http.post(f"{fake.url}/_fake/jobs", json={**body, "curve": "stages"}) as made:
            (job_id,) = (await made.json())["ids"]
        async with http.get(f"{fake.url}/_fake/jobs") as listed:
            (row,) = (await listed.json())["jobs"]
        assert (row["id"], row["curve"], row["final_state"]) == (job_id, "stages", "failed")
        assert row["completes_at"] - row["submitted_at"] == pytest.approx(5.0)
        async with http.post(f"{fake.url}/_fake/jobs", json={**body, "curve": "wavy"}) as bad:
            assert bad.status == 400
            assert "curve must be one of" in (await bad.json())["error"]


def test_the_standalone_fake_refuses_an_impossible_model() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastwait.testing", "--queue-share", "1.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "queue_share" in done.stderr


def test_the_standalone_fake_rejects_an_unknown_curve() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastwait.testing", "--curves", "straight,wavy"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "expected 'all' or some of" in done.stderr


async def test_the_standalone_fake_serves_the_model_its_flags_describe(
    http: aiohttp.ClientSession,
) -> None:
    argv = [
        *(sys.executable, "-m", "fastwait.testing", "--seed", "3"),
        *("--durations", "lognormal:4,1.0,40", "--queue-share", "0.2", "--curves", "all"),
        *("--progress-noise", "8", "--failure-rate", "0.5", "--failure-window", "0.2,1"),
    ]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        url = (await process.stdout.readline()).decode().strip()
        async with http.post(f"{url}/_fake/jobs", json={"provider": "compress", "count": 60}):
            pass
        async with http.get(f"{url}/_fake/jobs") as listed:
            rows = (await listed.json())["jobs"]
    finally:
        process.terminate()
        await process.wait()
    assert {row["curve"] for row in rows} == {curve.value for curve in ALL_CURVES}
    assert {row["final_state"] for row in rows} == {"succeeded", "failed"}
    durations = [row["completes_at"] - row["submitted_at"] for row in rows]
    # The times are clock readings plus a duration: a duration capped at exactly 40 s comes back
    # from the subtraction a rounding step above or below it.
    assert all(0 < d <= 40 + 1e-6 for d in durations)
    queued = [row["started_at"] - row["submitted_at"] for row in rows]
    assert all(q > 0 for q in queued)


@pytest.mark.fastwait_fake(job_model=JobModel(durations=5.0, queue_share=0.5))
async def test_the_pytest_marker_takes_a_job_model(fastwait_fake: FakeProvider) -> None:
    assert fastwait_fake.job_model == JobModel(durations=5.0, queue_share=0.5)
