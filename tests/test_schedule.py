"""The poll schedule is a pure function: tables of knowledge in, due times out."""

from __future__ import annotations

import random

import pytest

from fastwait.exceptions import ConfigurationError
from fastwait.polling._schedule import (
    JobKnowledge,
    PollPolicy,
    earliest_finish,
    next_poll_at,
    predict_finish,
)

NO_JITTER = PollPolicy(jitter=0.0)


def rng() -> random.Random:
    return random.Random(0)


def test_first_poll_of_a_progress_job_comes_at_first_poll_age() -> None:
    knowledge = JobKnowledge(submitted_at=100.0, reports_progress=True)
    assert next_poll_at(knowledge, NO_JITTER, 100.0, rng()) == pytest.approx(101.6)


def test_first_poll_of_a_blind_job_comes_later() -> None:
    knowledge = JobKnowledge(submitted_at=100.0, reports_progress=False)
    assert next_poll_at(knowledge, NO_JITTER, 100.0, rng()) == pytest.approx(102.5)


def test_first_poll_of_an_old_job_is_not_in_the_past() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True)
    assert next_poll_at(knowledge, NO_JITTER, 500.0, rng()) == pytest.approx(500.25)


def test_queue_estimate_does_not_delay_the_first_poll() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True, queue_estimate=5.0)
    assert next_poll_at(knowledge, NO_JITTER, 0.0, rng()) == pytest.approx(1.6)


def test_a_job_seen_queued_is_next_polled_when_the_estimate_runs_out() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True, queue_estimate=8.0)
    knowledge = knowledge.observed(1.4, 0.0, queued=True)
    assert next_poll_at(knowledge, NO_JITTER, 1.4, rng()) == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("observations", "expected_finish"),
    [
        (((1.0, 50.0),), 2.0),
        (((2.0, 20.0),), 10.0),
        (((1.0, 25.0), (2.0, 50.0)), 4.0),
    ],
)
def test_progress_extrapolates_the_finish(
    observations: tuple[tuple[float, float], ...], expected_finish: float
) -> None:
    knowledge = JobKnowledge(submitted_at=0.0, observations=observations, polls=1)
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    assert prediction[0] == pytest.approx(expected_finish)


def test_later_observations_make_the_prediction_sharper() -> None:
    early = JobKnowledge(submitted_at=0.0, observations=((1.0, 10.0),), polls=1)
    late = JobKnowledge(submitted_at=0.0, observations=((9.0, 90.0),), polls=1)
    early_prediction = predict_finish(early, 5.0)
    late_prediction = predict_finish(late, 5.0)
    assert early_prediction is not None
    assert late_prediction is not None
    assert late_prediction[1] < early_prediction[1] / 5


def test_no_usable_progress_gives_no_prediction() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, observations=((1.0, 0.0),), polls=1)
    assert predict_finish(knowledge, 5.0) is None


def test_a_sharp_prediction_is_polled_just_after_the_finish() -> None:
    knowledge = JobKnowledge(
        submitted_at=0.0, observations=((2.7, 90.0),), polls=1, reports_progress=True
    )
    due = next_poll_at(knowledge, NO_JITTER, 2.7, rng())
    assert 3.0 < due < 3.0 + NO_JITTER.target_lag


def test_a_vague_prediction_is_approached_rather_than_overshot() -> None:
    knowledge = JobKnowledge(
        submitted_at=0.0, observations=((1.0, 10.0),), polls=1, reports_progress=True
    )
    due = next_poll_at(knowledge, NO_JITTER, 1.0, rng())
    early = earliest_finish(knowledge, NO_JITTER.progress_noise, NO_JITTER.confidence)
    assert early is not None
    assert early < 10.0
    assert due == pytest.approx(1.0 + (early - 1.0) * NO_JITTER.approach)


def test_a_long_job_seen_at_a_few_percent_is_not_overshot() -> None:
    # A 20 s job reading 2 % at 1.4 s extrapolates to 70 s; it must be looked at long before.
    knowledge = JobKnowledge(
        submitted_at=0.0, observations=((1.4, 2.0),), polls=1, reports_progress=True
    )
    assert next_poll_at(knowledge, NO_JITTER, 1.4, rng()) < 20.0


def test_queued_observation_restarts_the_progress_clock() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, reports_progress=True)
    knowledge = knowledge.observed(5.0, 0.0, queued=True).observed(6.0, 50.0, queued=False)
    prediction = predict_finish(knowledge, 5.0)
    assert prediction is not None
    assert prediction[0] == pytest.approx(7.0)


def test_an_overdue_job_backs_off_instead_of_polling_at_the_floor() -> None:
    knowledge = JobKnowledge(
        submitted_at=0.0, observations=((9.9, 99.0),), polls=5, reports_progress=True
    )
    due = next_poll_at(knowledge, NO_JITTER, 60.0, rng())
    assert due - 60.0 > 10.0


@pytest.mark.parametrize(("age", "expected_delay"), [(2.5, 1.75), (10.0, 4.0), (100.0, 30.0)])
def test_blind_intervals_grow_with_age_up_to_the_ceiling(age: float, expected_delay: float) -> None:
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    assert next_poll_at(knowledge, NO_JITTER, age, rng()) - age == pytest.approx(expected_delay)


def test_retry_after_is_never_undercut() -> None:
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    assert next_poll_at(knowledge, NO_JITTER, 3.0, rng(), retry_after=20.0) == pytest.approx(23.0)


def test_floor_bounds_every_delay() -> None:
    policy = PollPolicy(jitter=0.0, floor=2.0)
    knowledge = JobKnowledge(
        submitted_at=0.0, observations=((1.0, 98.0),), polls=1, reports_progress=True
    )
    assert next_poll_at(knowledge, policy, 1.0, rng()) == pytest.approx(3.0)


def test_jitter_spreads_a_batch_started_together() -> None:
    generator = random.Random(1)
    policy = PollPolicy(jitter=0.2)
    knowledge = JobKnowledge(submitted_at=0.0, polls=1)
    dues = {round(next_poll_at(knowledge, policy, 10.0, generator), 6) for _ in range(50)}
    assert len(dues) > 40
    assert all(10.0 + 4.0 * 0.8 <= due <= 10.0 + 4.0 * 1.2 for due in dues)


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
        {"approach": 1.5},
        {"jitter": 1.0},
        {"target_lag": float("nan")},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PollPolicy(**kwargs)
