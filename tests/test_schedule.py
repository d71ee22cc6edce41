"""The poll schedule is a pure function: tables of knowledge in, due times out."""

from __future__ import annotations

import math
import random

import attrs
import pytest

from fastwait.exceptions import ConfigurationError
from fastwait.polling import Experience
from fastwait.polling._schedule import (
    JobKnowledge,
    PollPolicy,
    next_poll_at,
    predict_finish,
)

NO_JITTER = PollPolicy(jitter=0.0)
BOUND_ALLOWANCE = 1.45  # lag_allowance less the latency margin


def rng() -> random.Random:
    return random.Random(0)


def bound(age: float) -> float:
    """The longest sleep the default policy allows a job of ``age`` seconds."""
    return 0.25 * age + BOUND_ALLOWANCE


def progress_job(*readings: tuple[float, float], submitted_at: float = 0.0) -> JobKnowledge:
    knowledge = JobKnowledge(submitted_at=submitted_at, reports_progress=True)
    for at, percent in readings:
        knowledge = knowledge.observed(at, percent, queued=False)
    return knowledge


def learned(
    shares: list[tuple[float, float]], durations: tuple[float, ...] | list[float] = ()
) -> Experience:
    return Experience(
        durations=tuple(sorted(durations)), readings_from_submission=tuple(sorted(shares))
    )


# --- the first poll -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reports_progress", "expected"),
    [(True, BOUND_ALLOWANCE), (False, BOUND_ALLOWANCE)],
)
def test_first_poll_comes_within_the_age_bound_of_a_new_job(
    reports_progress: bool, expected: float
) -> None:
    knowledge = JobKnowledge(submitted_at=100.0, reports_progress=reports_progress)
    assert next_poll_at(knowledge, NO_JITTER, 100.0, rng()) == pytest.approx(100.0 + expected)


def test_a_short_first_poll_setting_is_kept() -> None:
    policy = PollPolicy(jitter=0.0, first_poll=0.5)
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True)
    assert next_poll_at(knowledge, policy, 0.0, rng()) == pytest.approx(0.5)


@pytest.mark.parametrize("reports_progress", [True, False])
def test_history_without_quick_jobs_never_lifts_the_first_poll_past_the_bound(
    reports_progress: bool,
) -> None:
    # What webhooks teach, for one: every duration they report is above 0.
    experience = learned([], durations=[2.0 + 0.1 * n for n in range(40)])
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=reports_progress)
    due = next_poll_at(knowledge, NO_JITTER, 0.0, rng(), experience=experience)
    assert due == pytest.approx(BOUND_ALLOWANCE)


def test_first_poll_settings_are_unset_by_default() -> None:
    assert PollPolicy().first_poll is None
    assert PollPolicy().blind_first_poll is None


def test_history_with_instant_jobs_keeps_the_first_poll_early() -> None:
    experience = learned([], durations=[0.0] * 5 + [3.0] * 35)
    knowledge = JobKnowledge(submitted_at=0.0)
    due = next_poll_at(knowledge, NO_JITTER, 0.0, rng(), experience=experience)
    assert due == pytest.approx(BOUND_ALLOWANCE)


def test_first_poll_of_an_old_job_is_not_in_the_past() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True)
    assert next_poll_at(knowledge, NO_JITTER, 500.0, rng()) == pytest.approx(500.25)


def test_queue_estimate_does_not_delay_the_first_poll() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True, queue_estimate=5.0)
    assert next_poll_at(knowledge, NO_JITTER, 0.0, rng()) == pytest.approx(BOUND_ALLOWANCE)


# --- the age bound: the regression tables of issue 9 ------------------------------------------


@pytest.mark.parametrize(
    ("case", "knowledge", "now"),
    [
        # A 20 s job first seen just out of its queue at 1 %: the old schedule slept ~25 s.
        ("out of the queue at 1 %", progress_job((1.6, 1.0)), 1.6),
        ("out of the queue at 4 %", progress_job((1.6, 4.0)), 1.6),
        # Progress stalled at 80 % for longer than the line through it predicts.
        ("stall at 80 %", progress_job((2.0, 40.0), (4.0, 80.0), (6.0, 80.0), (8.0, 80.0)), 8.0),
        ("stall at 99 %", progress_job((5.0, 99.0), (20.0, 99.0)), 60.0),
        # The API said 0 % while running: nothing has begun.
        ("a reading of 0 %", progress_job((1.6, 0.0)), 1.6),
        ("0 % for a while", progress_job((1.6, 0.0), (3.5, 0.0), (5.9, 0.0)), 5.9),
        ("slow start: 2 % after 5 s", progress_job((1.6, 0.5), (5.0, 2.0)), 5.0),
        ("no progress at 10 s", JobKnowledge(submitted_at=0.0, polls=3, last_poll_at=10.0), 10.0),
        ("no progress at 100 s", JobKnowledge(submitted_at=0.0, polls=9, last_poll_at=99.0), 100.0),
        (
            "queued with a long API estimate",
            JobKnowledge(submitted_at=0.0, queue_estimate=60.0).observed(1.6, 0.0, queued=True),
            1.6,
        ),
    ],
)
def test_no_sleep_outlasts_what_the_jobs_age_makes_safe(
    case: str, knowledge: JobKnowledge, now: float
) -> None:
    for seed in range(20):  # jitter included
        delay = next_poll_at(knowledge, PollPolicy(), now, random.Random(seed)) - now
        assert PollPolicy().floor <= delay <= bound(now) + 1e-9, case


def test_the_age_bound_holds_for_any_readings() -> None:
    """Random readings, queue sightings and ages: no sleep exceeds the bound without history."""
    generator = random.Random(9)
    policy = PollPolicy()
    for _ in range(2000):
        knowledge = JobKnowledge(
            submitted_at=0.0, reports_progress=generator.random() < 0.8, polls=0
        )
        now = 0.0
        for _ in range(generator.randint(1, 6)):
            now += generator.uniform(0.2, 8.0)
            queued = generator.random() < 0.15
            percent = 0.0 if generator.random() < 0.1 else generator.uniform(0.0, 99.0)
            knowledge = knowledge.observed(now, percent, queued=queued)
        delay = next_poll_at(knowledge, policy, now, generator) - now
        assert delay <= bound(now) + 1e-9, knowledge


def test_the_age_bound_holds_for_any_readings_and_any_history() -> None:
    """The same, with learned durations and readings of every kind, from the first poll on."""
    generator = random.Random(10)
    policy = PollPolicy()
    for _ in range(2000):
        quick = generator.choice([0.0, 0.5, 3.0, 20.0])  # the shortest duration learned
        experience = learned(
            [(generator.uniform(1.0, 99.0), generator.uniform(0.05, 1.0)) for _ in range(60)],
            durations=[quick + generator.expovariate(0.2) for _ in range(60)],
        )
        knowledge = JobKnowledge(submitted_at=0.0, reports_progress=generator.random() < 0.8)
        now = 0.0
        for _ in range(generator.randint(0, 6)):
            now += generator.uniform(0.2, 8.0)
            queued = generator.random() < 0.15
            percent = 0.0 if generator.random() < 0.1 else generator.uniform(0.0, 99.0)
            knowledge = knowledge.observed(now, percent, queued=queued)
        delay = next_poll_at(knowledge, policy, now, generator, experience=experience) - now
        assert delay <= bound(now) + 1e-9, (knowledge, quick)


def test_a_job_out_of_the_queue_at_1_percent_is_looked_at_within_the_bound() -> None:
    knowledge = progress_job((1.6, 1.0))
    assert next_poll_at(knowledge, NO_JITTER, 1.6, rng()) == pytest.approx(1.6 + bound(1.6))


def test_a_reading_of_0_percent_restarts_the_progress_clock() -> None:
    knowledge = progress_job((2.0, 0.0), (3.0, 50.0))
    assert knowledge.progress_origin == 2.0
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    assert prediction.likely == pytest.approx(4.0)  # not 6.0: the first 2 s were not work


def test_a_queued_sighting_restarts_the_progress_clock() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True)
    knowledge = knowledge.observed(5.0, 0.0, queued=True).observed(6.0, 50.0, queued=False)
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    assert prediction.likely == pytest.approx(7.0)


def test_a_stall_at_80_percent_is_polled_on_the_blind_beat() -> None:
    # The line through 40 % at 2 s and 80 % at 4 s says "done at 5 s" at every poll.
    knowledge = progress_job((2.0, 40.0), (4.0, 80.0), (6.0, 80.0), (8.0, 80.0))
    due = next_poll_at(knowledge, NO_JITTER, 8.0, rng())
    assert due == pytest.approx(8.0 + NO_JITTER.blind_step + NO_JITTER.blind_growth * 8.0)


def test_a_job_just_past_its_predicted_end_is_looked_at_again_soon() -> None:
    # 97.6 % at 3.24 s: the line through both readings ends right about now.
    knowledge = progress_job((1.45, 49.0), (3.24, 97.6))
    assert next_poll_at(knowledge, NO_JITTER, 3.24, rng()) < 3.24 + NO_JITTER.target_lag


# --- aiming at the end, from progress ---------------------------------------------------------


@pytest.mark.parametrize(
    ("readings", "likely"),
    [
        (((1.0, 50.0),), 2.0),
        (((2.0, 20.0),), 10.0),
        (((1.0, 25.0), (2.0, 50.0)), 4.0),
        # An unseen queue of 2 s: the line through the readings finds the start.
        (((4.0, 20.0), (6.0, 40.0), (8.0, 60.0)), 12.0),
    ],
)
def test_progress_extrapolates_the_finish(
    readings: tuple[tuple[float, float], ...], likely: float
) -> None:
    prediction = predict_finish(progress_job(*readings), 5.0)
    assert prediction is not None
    assert prediction.likely == pytest.approx(likely)
    assert prediction.early < prediction.likely < prediction.late


def test_a_line_starting_before_submission_falls_back_to_the_origin() -> None:
    # Decelerating readings: their line would start at -2 s, before the job existed.
    knowledge = progress_job((2.0, 40.0), (4.0, 60.0), (6.0, 80.0))
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    rate_through_origin = (2 * 40 + 4 * 60 + 6 * 80) / (2 * 2 + 4 * 4 + 6 * 6)
    assert prediction.likely == pytest.approx(100.0 / rate_through_origin)


def test_later_readings_make_the_prediction_sharper() -> None:
    early = predict_finish(progress_job((1.0, 10.0)), 5.0)
    late = predict_finish(progress_job((9.0, 90.0)), 5.0)
    assert early is not None
    assert late is not None
    assert late.late - late.early < (early.late - early.early) / 5


def test_a_percent_within_the_noise_of_zero_allows_any_late_end() -> None:
    prediction = predict_finish(progress_job((1.6, 2.0)), 5.0)
    assert prediction is not None
    assert math.isinf(prediction.late)


def test_no_reading_above_zero_gives_no_prediction() -> None:
    assert predict_finish(progress_job((1.0, 0.0)), 5.0) is None


def test_a_sharp_prediction_is_polled_just_after_the_finish() -> None:
    knowledge = progress_job((2.7, 90.0))
    due = next_poll_at(knowledge, NO_JITTER, 2.7, rng())
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    assert due == pytest.approx(prediction.late)
    assert 3.0 < due < 3.0 + NO_JITTER.target_lag


def test_a_vague_prediction_buys_an_earlier_look() -> None:
    policy = PollPolicy(jitter=0.0, progress_noise=20.0)
    knowledge = progress_job((6.0, 60.0))
    prediction = predict_finish(knowledge, policy.progress_noise)
    assert prediction is not None
    assert prediction.late - prediction.early > policy.target_lag
    due = next_poll_at(knowledge, policy, 6.0, rng())
    assert due == pytest.approx(prediction.early + policy.target_lag)
    assert due < prediction.likely


# --- learning from finished jobs --------------------------------------------------------------

# This provider's jobs read 20 % when half their time has passed (a queue, a slow start...).
HALFWAY_AT_20 = learned([(20.0 + 0.1 * n, 0.5) for n in range(-20, 20)])


def test_learned_readings_say_when_such_jobs_end() -> None:
    knowledge = progress_job((1.6, 20.0))
    due = next_poll_at(knowledge, NO_JITTER, 1.6, rng(), experience=HALFWAY_AT_20)
    # The straight line says 8 s; the history says jobs reading 20 % at 1.6 s end at 3.2 s.
    assert due == pytest.approx(3.2)


def test_history_saying_the_end_is_far_never_lifts_the_age_bound() -> None:
    # Jobs reading 20 % at 10 s have ended at 20 s, but this one may fail at 11 s.
    knowledge = progress_job((10.0, 20.0))
    due = next_poll_at(knowledge, NO_JITTER, 10.0, rng(), experience=HALFWAY_AT_20)
    assert due == pytest.approx(10.0 + bound(10.0))


def test_readings_unlike_any_learned_one_fall_back_to_the_line() -> None:
    knowledge = progress_job((4.0, 70.0))
    with_history = next_poll_at(knowledge, NO_JITTER, 4.0, rng(), experience=HALFWAY_AT_20)
    assert with_history == next_poll_at(knowledge, NO_JITTER, 4.0, rng())
    assert with_history < 4.0 + bound(4.0)  # the line's aim, not the bound


def test_learned_durations_aim_a_blind_poll_past_the_likely_end() -> None:
    experience = learned([], durations=[9.0 + 0.02 * n for n in range(50)])
    knowledge = JobKnowledge(submitted_at=0.0, polls=2, last_poll_at=8.0)
    due = next_poll_at(knowledge, NO_JITTER, 8.0, rng(), experience=experience)
    assert due == pytest.approx(9.0 + 0.02 * 45)  # the 90 % quantile: one look past them all


def test_learned_durations_never_lift_the_age_bound_of_a_blind_job() -> None:
    experience = learned([], durations=[20.0 + 0.02 * n for n in range(50)])
    knowledge = JobKnowledge(submitted_at=0.0, polls=1, last_poll_at=2.5)
    due = next_poll_at(knowledge, NO_JITTER, 2.5, rng(), experience=experience)
    assert due == pytest.approx(2.5 + bound(2.5))


def test_learned_durations_shorter_than_the_age_say_nothing() -> None:
    experience = learned([], durations=[2.0] * 50)
    knowledge = JobKnowledge(submitted_at=0.0, polls=2, last_poll_at=6.0)
    due = next_poll_at(knowledge, NO_JITTER, 6.0, rng(), experience=experience)
    assert due == pytest.approx(6.0 + NO_JITTER.blind_step + NO_JITTER.blind_growth * 6.0)


# --- the blind beat, the API's wishes, the limits --------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected_delay"),
    [(1.45, bound(1.45)), (10.0, 1.8 + 0.3), (100.0, 1.8 + 3.0), (1000.0, 30.0)],
)
def test_blind_intervals_grow_with_age_within_the_bound_and_ceiling(
    age: float, expected_delay: float
) -> None:
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    assert next_poll_at(knowledge, NO_JITTER, age, rng()) - age == pytest.approx(expected_delay)


def test_a_job_seen_queued_is_next_polled_when_the_estimate_runs_out() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True, queue_estimate=2.5)
    knowledge = knowledge.observed(1.4, 0.0, queued=True)
    assert next_poll_at(knowledge, NO_JITTER, 1.4, rng()) == pytest.approx(2.5)


def test_retry_after_is_never_undercut() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    assert next_poll_at(knowledge, NO_JITTER, 3.0, rng(), retry_after=20.0) == pytest.approx(23.0)


def test_retry_after_is_honored_up_to_max_retry_after() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    due = next_poll_at(knowledge, NO_JITTER, 3.0, rng(), retry_after=86_400.0)
    assert due == pytest.approx(3.0 + NO_JITTER.max_retry_after)
    assert NO_JITTER.max_retry_after == 300.0


def test_floor_bounds_every_delay() -> None:
    policy = PollPolicy(jitter=0.0, floor=2.0)
    knowledge = progress_job((1.0, 98.0))
    assert next_poll_at(knowledge, policy, 1.0, rng()) == pytest.approx(3.0)


def test_ceiling_bounds_every_delay() -> None:
    policy = PollPolicy(jitter=0.0, ceiling=2.0)
    knowledge = progress_job((10.0, 20.0))
    assert next_poll_at(knowledge, policy, 10.0, rng()) == pytest.approx(12.0)


def test_jitter_spreads_a_batch_started_together() -> None:
    generator = random.Random(1)
    policy = PollPolicy(jitter=0.2)
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    dues = {round(next_poll_at(knowledge, policy, 10.0, generator), 6) for _ in range(50)}
    assert len(dues) > 40
    beat = 1.8 + 0.03 * 10.0
    assert all(10.0 + beat * 0.8 <= due <= 10.0 + beat * 1.2 for due in dues)


def test_webhook_expected_polls_only_as_a_safety_net() -> None:
    knowledge = JobKnowledge(
        submitted_at=0.0,
        observations=((1.0, 50.0),),
        polls=1,
        reports_progress=True,
        webhook_expected=True,
    )
    due = next_poll_at(knowledge, NO_JITTER, 1.0, rng())
    assert due >= 2.0 + NO_JITTER.safety_net_delay


def test_observations_are_bounded() -> None:
    knowledge = JobKnowledge(submitted_at=0.0)
    for second in range(1, 50):
        knowledge = knowledge.observed(float(second), float(second), queued=False)
    assert len(knowledge.observations) <= 6
    assert knowledge.polls == 49


@pytest.mark.parametrize(
    "kwargs",
    [
        {"floor": 0},
        {"floor": -1},
        {"ceiling": float("inf")},
        {"floor": 5, "ceiling": 1},
        {"jitter": 1.0},
        {"target_lag": float("nan")},
        {"lag_share": -0.1},
        {"lag_allowance": 0},
        {"first_poll": -1},
        {"blind_first_poll": float("inf")},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PollPolicy(**kwargs)


def test_an_observation_keeps_every_field_it_does_not_change() -> None:
    knowledge = JobKnowledge(
        submitted_at=1.0,
        observations=((2.0, 10.0),),
        started_after=None,
        queue_estimate=4.0,
        polls=2,
        last_poll_at=2.0,
        reports_progress=True,
        webhook_expected=True,
        input_bytes=123,
    )
    seen = knowledge.observed(3.0, 20.0, queued=False)
    changed = {"observations", "polls", "last_poll_at"}
    for field in attrs.fields(JobKnowledge):
        if field.name not in changed:
            assert getattr(seen, field.name) == getattr(knowledge, field.name), field.name
    assert (seen.observations, seen.polls, seen.last_poll_at) == (
        ((2.0, 10.0), (3.0, 20.0)),
        3,
        3.0,
    )
