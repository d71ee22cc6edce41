"""When to poll a job next: a pure function of what is known about it and a clock reading.

The poller only carries these decisions out, so every rule here is tested in tables without an
event loop. Times are seconds on one monotonic clock (the poller's); ``submitted_at`` may lie
before the poller started (a GUIDv7 job id carries its creation time).

The rules, in order of preference:

1. **Progress** (tools.fast reports ``progress.percent``): each running observation ``(t, p)``
   extrapolates a finish at ``start + 100 * (t - start) / p``, with an uncertainty that shrinks
   as ``p`` grows (the API's percent carries about ±``progress_noise`` points of noise). The
   estimates are combined by inverse variance. The next poll aims at ``finish + target_lag -
   confidence * sigma``: just late enough that one poll usually sees the end, early enough that
   the detection lag stays near ``target_lag``. When the estimate is still too uncertain for that,
   the next poll lands ``approach`` of the way to the earliest plausible finish (fitted in rate
   space, where the noise is symmetric), where the percent will be large and the next estimate
   sharp.
2. **Queue**: a job seen queued, with an API estimate (``"< 5s"``), is next polled when the
   estimate runs out.
3. **Blind** (no progress, e.g. compressor.app): intervals grow with the job's age
   (``blind_growth * age + blind_step``), so the relative detection lag stays bounded while the
   request count grows only logarithmically with the duration.
4. **Webhook expected**: only a slow safety-net poll, after the predicted finish plus
   ``safety_net_delay``, growing with age like the blind schedule.

Every delay is jittered by ±``jitter`` (so a batch started together spreads out), then clamped
to ``[floor, ceiling]``, and never earlier than the API's ``Retry-After``.
"""

from __future__ import annotations

import math
import random

import attrs

from fastwait.exceptions import ConfigurationError

__all__ = ["JobKnowledge", "PollPolicy", "earliest_finish", "next_poll_at", "predict_finish"]

_MAX_OBSERVATIONS = 6


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"PollPolicy.{attribute.name} must be a positive number")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigurationError(f"PollPolicy.{attribute.name} must be a number >= 0")


@attrs.frozen
class PollPolicy:
    """Settings of the adaptive schedule (seconds unless said otherwise).

    ``floor`` and ``ceiling`` bound every delay between two polls of one job. The defaults were
    tuned on job durations spread log-normally around a few seconds; see the README's benchmark
    section for what they buy.
    """

    floor: float = attrs.field(default=0.25, validator=_positive)
    ceiling: float = attrs.field(default=30.0, validator=_positive)
    first_poll: float = attrs.field(default=1.6, validator=_non_negative)
    """Age at the first poll when the API reports progress (the poll buys a prediction)."""
    blind_first_poll: float = attrs.field(default=2.5, validator=_non_negative)
    """Age at the first poll when it does not (the poll only buys a chance of being done)."""
    blind_growth: float = attrs.field(default=0.3, validator=_non_negative)
    blind_step: float = attrs.field(default=1.0, validator=_non_negative)
    target_lag: float = attrs.field(default=0.8, validator=_non_negative)
    """How late after the predicted finish a poll may land, when progress is known."""
    confidence: float = attrs.field(default=1.5, validator=_non_negative)
    approach: float = attrs.field(default=0.8, validator=_positive)
    progress_noise: float = attrs.field(default=5.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.1, validator=_non_negative)
    """Relative jitter applied to every delay (0.1 = ±10 %)."""
    safety_net_delay: float = attrs.field(default=15.0, validator=_non_negative)
    """With webhooks expected: grace after the predicted finish before a safety-net poll."""

    def __attrs_post_init__(self) -> None:
        if self.floor > self.ceiling:
            raise ConfigurationError("PollPolicy.floor must not exceed PollPolicy.ceiling")
        if self.approach >= 1:
            raise ConfigurationError("PollPolicy.approach must be below 1")
        if self.jitter >= 1:
            raise ConfigurationError("PollPolicy.jitter must be below 1")


@attrs.frozen
class JobKnowledge:
    """What the poller knows of one unresolved job, as plain values.

    ``observations`` holds the newest running ``(time, percent)`` pairs; ``started_after`` is the
    latest time the job was seen queued (progress counts from there).
    """

    submitted_at: float
    observations: tuple[tuple[float, float], ...] = ()
    started_after: float | None = None
    queue_estimate: float | None = None
    """Seconds the API estimated the job would wait in the queue, from ``submitted_at``."""
    polls: int = 0
    last_poll_at: float | None = None
    reports_progress: bool = False
    webhook_expected: bool = False

    def observed(self, at: float, percent: float | None, *, queued: bool) -> JobKnowledge:
        """This knowledge after a status response at ``at``."""
        observations = self.observations
        started_after = self.started_after
        if queued:
            started_after = at
            observations = ()
        elif percent is not None and math.isfinite(percent):
            observations = (*observations, (at, float(percent)))[-_MAX_OBSERVATIONS:]
        return attrs.evolve(
            self,
            observations=observations,
            started_after=started_after,
            polls=self.polls + 1,
            last_poll_at=at,
        )


def predict_finish(knowledge: JobKnowledge, progress_noise: float) -> tuple[float, float] | None:
    """Predicted finish time and its standard deviation, from progress; None without data.

    Each running observation with ``0 < percent < 100`` gives an independent estimate; they are
    combined by inverse variance (uniform noise of ±n points has a standard deviation n/sqrt 3).
    """
    start = (
        knowledge.started_after if knowledge.started_after is not None else (knowledge.submitted_at)
    )
    noise_sd = max(progress_noise, 0.5) / math.sqrt(3.0)
    weight_sum = 0.0
    weighted = 0.0
    for at, percent in knowledge.observations:
        elapsed = at - start
        if not (0.0 < percent < 100.0) or elapsed <= 0:
            continue
        duration = 100.0 * elapsed / percent
        sd = duration * noise_sd / percent
        weight = 1.0 / (sd * sd)
        weight_sum += weight
        weighted += weight * duration
    if weight_sum == 0.0:
        return None
    return start + weighted / weight_sum, 1.0 / math.sqrt(weight_sum)


def earliest_finish(
    knowledge: JobKnowledge, progress_noise: float, confidence: float
) -> float | None:
    """The finish if the job runs ``confidence`` standard deviations faster than estimated.

    Fitted in rate space (percent per second through the job's start), where the API's noise
    is symmetric, unlike the duration estimate of :func:`predict_finish`.
    """
    start = (
        knowledge.started_after if knowledge.started_after is not None else (knowledge.submitted_at)
    )
    noise_sd = max(progress_noise, 0.5) / math.sqrt(3.0)
    sum_tt = sum_tp = 0.0
    for at, percent in knowledge.observations:
        elapsed = at - start
        if elapsed > 0 and 0.0 < percent < 100.0:
            sum_tt += elapsed * elapsed
            sum_tp += elapsed * percent
    if sum_tt == 0.0:
        return None
    rate = sum_tp / sum_tt + confidence * noise_sd / math.sqrt(sum_tt)
    return start + 100.0 / rate


def _jittered(delay: float, policy: PollPolicy, rng: random.Random) -> float:
    if policy.jitter:
        delay *= 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    return delay


def _blind_delay(age: float, policy: PollPolicy) -> float:
    return policy.blind_growth * max(age, 0.0) + policy.blind_step


def next_poll_at(
    knowledge: JobKnowledge,
    policy: PollPolicy,
    now: float,
    rng: random.Random,
    *,
    retry_after: float | None = None,
) -> float:
    """The clock time at which to poll the job next (never before ``now + floor``).

    ``retry_after`` is the delay the API asked for in its last response, in seconds.
    """
    age = now - knowledge.submitted_at
    prediction = predict_finish(knowledge, policy.progress_noise)
    if knowledge.webhook_expected:
        due = now + _blind_delay(age, policy) + policy.safety_net_delay
        if prediction is not None:
            due = max(due, prediction[0] + policy.safety_net_delay)
        delay = due - now
    elif knowledge.polls == 0:
        # The queue estimate is an upper bound ("< 5s"), often of an empty queue: it must not
        # delay the first look. It paces polls once the job is seen queued (below).
        first = policy.first_poll if knowledge.reports_progress else policy.blind_first_poll
        delay = knowledge.submitted_at + first - now
    elif prediction is not None:
        finish, sigma = prediction
        aimed = finish + policy.target_lag - policy.confidence * sigma
        approach = now + (finish - now) * policy.approach
        if aimed >= approach:
            delay = aimed - now
        else:
            # Too vague to aim at. A small percent makes the duration estimate skewed (2 % ± 5
            # could mean 30 s or 3 min), so approach the earliest plausible finish instead.
            early = earliest_finish(knowledge, policy.progress_noise, policy.confidence)
            target = finish if early is None else min(finish, early)
            delay = (target - now) * policy.approach
        if finish < now:
            # Overdue (a job stuck at 99 %): back off with the overdue time, not at the floor.
            delay = max(delay, policy.blind_growth * (now - finish))
    elif (
        knowledge.started_after is not None
        and knowledge.queue_estimate is not None
        and (knowledge.submitted_at + knowledge.queue_estimate > now)
    ):
        delay = knowledge.submitted_at + knowledge.queue_estimate - now
    else:
        delay = _blind_delay(age, policy)
    if prediction is None or knowledge.webhook_expected:
        # Aimed polls are spread by their own predictions; only schedules that every job of a
        # batch shares are jittered, so a batch started together does not poll in lock step.
        delay = _jittered(delay, policy, rng)
    delay = min(max(delay, policy.floor), policy.ceiling)
    if retry_after is not None and math.isfinite(retry_after):
        delay = max(delay, retry_after)
    return now + delay
