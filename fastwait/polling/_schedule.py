"""When to poll a job next: a pure function of what is known about it and a clock reading.

The poller only carries these decisions out, so every rule here is tested in tables without an
event loop. Times are seconds on one monotonic clock (the poller's); ``submitted_at`` may lie
before the poller started (a GUIDv7 job id carries its creation time).

Robust before clever. Whatever a job's progress looks like, one rule bounds every sleep:

* **The age bound.** A job polled at age ``a`` and found running may end at once, so the next
  poll comes within ``lag_share * a + lag_allowance`` seconds, and the first one by
  ``lag_allowance`` after submission: then no job is detected later than ``lag_share`` of its
  own duration plus ``lag_allowance`` (plus the request's latency), whatever its progress
  said. Nothing in the schedule lifts it: readings and history (below) only ever bring a poll
  forward. (Letting the history of finished jobs lift it when their readings said "far"
  saved a fifth of the requests on well-behaved jobs, but a job failing part-way through such
  a long sleep was then found up to 20 s late; see the documentation's "How polling decides".)
  Only the API can: a ``Retry-After`` is honored up to ``max_retry_after``, the poller backs
  off from transient errors, and a job whose webhook is expected is polled by the safety net alone.

Within the bound, the next poll aims at the job's end:

1. **Progress** (tools.fast's ``progress.percent``). A reading of 0 % (or a queued status)
   says the work has not begun: progress counts from that sighting, else from submission.
   The newest reading gives a spread of plausible ends. With enough learned readings near its
   percent (:mod:`~fastwait.polling._learning`), the spread is what their shares of elapsed
   time imply for this job; else a straight line through the readings (their least-squares
   line once they span enough points, so an unseen queued phase does not make the job look
   slow), ± ``confidence`` standard deviations of ``progress_noise``. The poll lands just
   after the late end of the spread if the spread is narrower than ``target_lag``; otherwise
   ``target_lag`` after its early end, where a new reading will be sharper: an uncertain
   estimate buys an earlier look, never a later one. A job whose newest reading is no further
   than the one before (a stall) is not timed by a line: it is polled on the blind beat.
2. **Blind** (no progress, e.g. compressor.app; or progress still at 0 %): with learned
   durations, the same aim over the durations longer than the job's age; without, intervals
   of ``blind_step + blind_growth * age``.
3. **Queue**: a job seen queued with an API estimate (``"< 5s"``) is next polled when it runs
   out.
4. **Webhook expected**: only a slow safety-net poll, after the predicted finish plus
   ``safety_net_delay``, growing with age like the blind schedule (the age bound does not
   apply: the webhook is the fast path).

The first poll comes at the age bound of a job of age 0 (``lag_allowance`` less the latency
margin: 1.45 s), or earlier at ``first_poll`` (``blind_first_poll`` without progress) when set.
The history never moves it later: it cannot tell that no job ends that soon (what it learns
from webhooks and from jobs still running at their first poll is never 0, and any job may be
the quick one). Delays that every job of a batch shares are jittered by ±``jitter`` (so a
batch started together spreads out) before the bound applies; then every delay is clamped to
``[floor, ceiling]`` and never earlier than the API's ``Retry-After`` (honored up to
``max_retry_after``, :func:`honor_retry_after`: the one rule for a status answer and an error
answer alike).
"""

from __future__ import annotations

import math
import random

import attrs

from fastwait.exceptions import ConfigurationError
from fastwait.polling._learning import Experience

__all__ = [
    "FinishEstimate",
    "JobKnowledge",
    "PollPolicy",
    "honor_retry_after",
    "latest_safe_poll",
    "next_poll_at",
    "predict_finish",
]

_MAX_OBSERVATIONS = 6
_EARLY = 0.1
_LATE = 0.9
_MIN_AHEAD = 5
"""Learned ends still ahead of now needed before the history may guide a poll."""
_LATENCY_MARGIN = 0.05
"""Seconds kept for the request itself within the age bound."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"PollPolicy.{attribute.name} must be a positive number")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigurationError(f"PollPolicy.{attribute.name} must be a number >= 0")


def _unset_or_non_negative(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not (
        isinstance(value, int | float) and math.isfinite(value) and value >= 0
    ):
        raise ConfigurationError(f"PollPolicy.{attribute.name} must be None or a number >= 0")


@attrs.frozen
class PollPolicy:
    """Settings of the adaptive schedule (seconds unless said otherwise).

    ``floor`` and ``ceiling`` bound every delay the schedule chooses between two polls of one
    job (the API's ``Retry-After`` may lengthen one, up to ``max_retry_after``); ``lag_share``
    and ``lag_allowance`` bound how late any job is detected (see the module docstring). The
    defaults were tuned on the fake's job models (see the documentation's Benchmarks page); one
    model and seed were held out of the tuning.
    """

    floor: float = attrs.field(default=0.25, validator=_positive)
    ceiling: float = attrs.field(default=30.0, validator=_positive)
    first_poll: float | None = attrs.field(default=None, validator=_unset_or_non_negative)
    """Age at the first poll when the API reports progress, if earlier than the age bound of a
    new job (``lag_allowance`` less the request's latency: 1.45 s by default). None: at that
    bound. A later first poll cannot be set: it would break the bound."""
    blind_first_poll: float | None = attrs.field(default=None, validator=_unset_or_non_negative)
    """The same for an API that reports no progress."""
    lag_share: float = attrs.field(default=0.25, validator=_non_negative)
    lag_allowance: float = attrs.field(default=1.5, validator=_positive)
    """With ``lag_share``: no job is detected later than ``lag_share * duration +
    lag_allowance`` (plus the request's latency)."""
    blind_growth: float = attrs.field(default=0.03, validator=_non_negative)
    blind_step: float = attrs.field(default=1.8, validator=_non_negative)
    target_lag: float = attrs.field(default=0.8, validator=_non_negative)
    """How far apart the plausible ends of a job may lie for one poll to aim past them all."""
    confidence: float = attrs.field(default=1.5, validator=_non_negative)
    progress_noise: float = attrs.field(default=5.0, validator=_non_negative)
    """± points of noise on the API's percent, assumed until the history shows better."""
    jitter: float = attrs.field(default=0.1, validator=_non_negative)
    """Relative jitter applied to every delay (0.1 = ±10 %)."""
    safety_net_delay: float = attrs.field(default=15.0, validator=_non_negative)
    """With webhooks expected: grace after the predicted finish before a safety-net poll."""
    max_retry_after: float = attrs.field(default=300.0, validator=_non_negative)
    """The longest ``Retry-After`` honored: an API asking for more is polled again after this
    (a wrong or hostile header must not stop a job's polling for hours)."""

    def __attrs_post_init__(self) -> None:
        if self.floor > self.ceiling:
            raise ConfigurationError("PollPolicy.floor must not exceed PollPolicy.ceiling")
        if self.jitter >= 1:
            raise ConfigurationError("PollPolicy.jitter must be below 1")


@attrs.frozen
class JobKnowledge:
    """What the poller knows of one unresolved job, as plain values.

    ``observations`` holds the newest running ``(time, percent > 0)`` pairs since
    ``started_after``, the latest time the job was seen queued or at 0 % (progress counts from
    there; None: from ``submitted_at``). ``input_bytes`` picks the learned durations of jobs of
    a similar size.
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
    input_bytes: int | None = None

    @property
    def progress_origin(self) -> float:
        """Where progress counts from: the last queued or 0 % sighting, else submission."""
        return self.started_after if self.started_after is not None else self.submitted_at

    def observed(self, at: float, percent: float | None, *, queued: bool) -> JobKnowledge:
        """This knowledge after a status response at ``at``.

        A queued status or a running one at 0 % moves the progress origin to ``at`` (the work
        has not begun, whatever the time since submission says).
        """
        observations = self.observations
        started_after = self.started_after
        usable = percent is not None and math.isfinite(percent)
        if queued or (usable and percent is not None and percent <= 0.0):
            started_after = at
            observations = ()
        elif usable and percent is not None:
            observations = (*observations, (at, float(percent)))[-_MAX_OBSERVATIONS:]
        return attrs.evolve(
            self,
            observations=observations,
            started_after=started_after,
            polls=self.polls + 1,
            last_poll_at=at,
        )


@attrs.frozen
class FinishEstimate:
    """Where a job's end plausibly lies, from its progress readings (clock times).

    ``early`` and ``late`` are ``confidence`` standard deviations of the API's noise either side
    of ``likely`` (``late`` may be infinite: a percent within the noise of 0 says little).
    """

    early: float
    likely: float
    late: float


def predict_finish(
    knowledge: JobKnowledge, progress_noise: float, confidence: float = 1.5
) -> FinishEstimate | None:
    """The job's end on a straight line through its readings; None without a reading above 0 %.

    Once the readings span more than twice the noise, the least-squares line through them
    (start and rate both unknown) is used, so time spent in an unseen queue does not read as
    slow progress; its start may not precede the progress origin (a line starting earlier says
    the job is decelerating, and the origin's line is then the better guess). Otherwise the
    line runs through the origin. The spread comes from the rate's uncertainty (uniform noise of
    ±n points has a standard deviation n/sqrt 3), computed in rate space, where it is
    symmetric: a reading of 2 % ± 5 allows an end in 30 s as well as never.
    """
    origin = knowledge.progress_origin
    noise_sd = max(progress_noise, 0.5) / math.sqrt(3.0)
    readings = [(at, p) for at, p in knowledge.observations if at > origin and 0.0 < p < 100.0]
    if not readings:
        return None
    fitted = _fitted_line(readings, origin, noise_sd)
    if fitted is None:
        sum_tt = sum((at - origin) ** 2 for at, _ in readings)
        rate = sum((at - origin) * p for at, p in readings) / sum_tt
        rate_sd = noise_sd / math.sqrt(sum_tt)
        start = origin
    else:
        start, rate, rate_sd = fitted
    slow = rate - confidence * rate_sd
    return FinishEstimate(
        early=start + 100.0 / (rate + confidence * rate_sd),
        likely=start + 100.0 / rate,
        late=start + 100.0 / slow if slow > 0 else math.inf,
    )


def _fitted_line(
    readings: list[tuple[float, float]], origin: float, noise_sd: float
) -> tuple[float, float, float] | None:
    """(start, rate, rate's sd) of the least-squares line, if the readings can carry one."""
    if len(readings) < 2 or readings[-1][1] - readings[0][1] < 2.0 * noise_sd:
        return None
    n = len(readings)
    mean_t = sum(at for at, _ in readings) / n
    mean_p = sum(p for _, p in readings) / n
    spread = sum((at - mean_t) ** 2 for at, _ in readings)
    rate = sum((at - mean_t) * (p - mean_p) for at, p in readings) / spread
    if rate <= 0:
        return None
    start = mean_t - mean_p / rate
    if not origin <= start <= readings[0][0]:
        return None
    return start, rate, noise_sd / math.sqrt(spread)


def _stalled(observations: tuple[tuple[float, float], ...], progress_noise: float) -> bool:
    """Whether the newest reading is no further than the one before, within the noise: a
    stall (at 80 %, say) that no line through the earlier readings can time."""
    if len(observations) < 2:
        return False
    noise_sd = max(progress_noise, 0.5) / math.sqrt(3.0)
    return observations[-1][1] - observations[-2][1] < noise_sd


def _quantile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _learned_ends(
    knowledge: JobKnowledge, experience: Experience | None, now: float
) -> list[float] | None:
    """Ends still ahead of ``now`` that the history makes plausible, sorted; None if it can't say.

    From the newest reading through the learned percent-to-time pairs when the job reports
    progress, else from the learned durations longer than the job's age.
    """
    if experience is None:
        return None
    if knowledge.reports_progress and knowledge.observations:
        at, percent = knowledge.observations[-1]
        origin = knowledge.progress_origin
        shares = experience.elapsed_shares(
            percent, from_sighting=knowledge.started_after is not None
        )
        elapsed = at - origin
        ends = [origin + elapsed / share for share in shares if share > 0 and elapsed > 0]
    else:
        ends = [
            knowledge.submitted_at + duration
            for duration in experience.durations_beyond(now - knowledge.submitted_at)
        ]
    ahead = sorted(end for end in ends if end > now)
    return ahead if len(ahead) >= _MIN_AHEAD else None


def latest_safe_poll(knowledge: JobKnowledge, policy: PollPolicy, not_before: float) -> float:
    """The latest poll that keeps the age bound for a job that cannot end before ``not_before``."""
    age = max(not_before - knowledge.submitted_at, 0.0)
    allowance = max(policy.lag_allowance - _LATENCY_MARGIN, 0.0)
    return not_before + policy.lag_share * age + allowance


def _aim(early: float, late: float, policy: PollPolicy) -> float:
    """Past the whole spread of plausible ends when it is narrow, else ``target_lag`` past its
    early end."""
    return min(late, early + policy.target_lag)


def _jittered(delay: float, policy: PollPolicy, rng: random.Random) -> float:
    if policy.jitter:
        delay *= 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    return delay


def _blind_delay(age: float, policy: PollPolicy) -> float:
    return policy.blind_growth * max(age, 0.0) + policy.blind_step


def _safety_net_delay(
    knowledge: JobKnowledge, policy: PollPolicy, now: float, rng: random.Random
) -> float:
    age = now - knowledge.submitted_at
    due = now + _blind_delay(age, policy) + policy.safety_net_delay
    prediction = predict_finish(knowledge, policy.progress_noise, policy.confidence)
    if prediction is not None:
        due = max(due, prediction.likely + policy.safety_net_delay)
    return _jittered(due - now, policy, rng)


def _first_delay(knowledge: JobKnowledge, policy: PollPolicy, now: float) -> float:
    # The queue estimate is an upper bound ("< 5s"), often of an empty queue: it must not
    # delay the first look. It paces polls once the job is seen queued.
    due = latest_safe_poll(knowledge, policy, knowledge.submitted_at)
    first = policy.first_poll if knowledge.reports_progress else policy.blind_first_poll
    if first is not None:
        due = min(due, knowledge.submitted_at + first)
    return due - now


def _running_due(
    knowledge: JobKnowledge,
    policy: PollPolicy,
    now: float,
    rng: random.Random,
    experience: Experience | None,
) -> tuple[float, float]:
    """(due, latest safe poll) of a job seen running (or queued) and not yet resolved."""
    age = now - knowledge.submitted_at
    safe = latest_safe_poll(knowledge, policy, now)
    learned = _learned_ends(knowledge, experience, now)
    if learned is not None:
        return _aim(_quantile(learned, _EARLY), _quantile(learned, _LATE), policy), safe
    if knowledge.reports_progress and knowledge.observations:
        prediction = predict_finish(knowledge, policy.progress_noise, policy.confidence)
        if (
            prediction is not None
            and prediction.late > now  # not overdue beyond the noise
            and not _stalled(knowledge.observations, policy.progress_noise)
        ):
            return _aim(max(now, prediction.early), prediction.late, policy), safe
    if (
        knowledge.started_after is not None
        and knowledge.queue_estimate is not None
        and knowledge.submitted_at + knowledge.queue_estimate > now
    ):
        return knowledge.submitted_at + knowledge.queue_estimate, safe
    # Blind, still at 0 %, or overdue against the prediction (stuck at 99 %): the same beat.
    return now + _jittered(_blind_delay(age, policy), policy, rng), safe


def next_poll_at(
    knowledge: JobKnowledge,
    policy: PollPolicy,
    now: float,
    rng: random.Random,
    *,
    retry_after: float | None = None,
    experience: Experience | None = None,
) -> float:
    """The clock time at which to poll the job next (never before ``now + floor``).

    ``retry_after`` is the delay the API asked for in its last response, in seconds;
    ``experience`` what the history of finished jobs of this provider says (None: nothing).
    """
    if knowledge.webhook_expected:
        delay = _safety_net_delay(knowledge, policy, now, rng)
    elif knowledge.polls == 0:
        delay = _first_delay(knowledge, policy, now)
    else:
        due, safe = _running_due(knowledge, policy, now, rng, experience)
        delay = min(due, safe) - now
    delay = min(max(delay, policy.floor), policy.ceiling)
    return now + honor_retry_after(delay, retry_after, policy)


def honor_retry_after(delay: float, retry_after: float | None, policy: PollPolicy) -> float:
    """``delay`` (seconds), lengthened to the API's ``Retry-After`` if that asks for more, up to
    ``policy.max_retry_after``: the one rule for a status answer and an error answer alike."""
    if retry_after is None or not math.isfinite(retry_after):
        return delay
    return max(delay, min(retry_after, policy.max_retry_after))
