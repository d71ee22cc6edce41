"""What the event hook costs: the poller's whole path, without a hook and with a no-op one.

The network would drown a difference of nanoseconds, so the poller fetches from memory: each of
``jobs`` jobs answers RUNNING ``polls - 1`` times, then SUCCEEDED, as fast as the scheduler asks
(every delay at the policy's floor). Each round polls every job to its end, once without a hook
and once with a hook that does nothing, in alternating order; the CPU time per poll of each is
the median over the rounds. The figure "without a hook" is the code path every user pays for;
the one "with" adds building and delivering three events per poll (PollSent, StatusSeen, and
JobResolved or nothing). A third figure times the ``is not None`` checks alone, four per poll,
so the cost of an unused hook is shown against the cost of a poll in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import timeit

import attrs

from fastwait import JobState, JobStatus, PollPolicy, Registry
from fastwait.events import Event
from fastwait.polling._poller import Poller

from ._harness import ScenarioReport, Target, format_targets

__all__ = ["EventsOptions", "run"]

_POLICY = PollPolicy(
    floor=1e-6, ceiling=1e-6, first_poll=0.0, blind_first_poll=0.0, target_lag=0.0, jitter=0.0
)
_CHECKS_PER_POLL = 4


@attrs.frozen
class EventsOptions:
    jobs: int = 2_000
    polls: int = 5
    rounds: int = 7


async def _poll_all(options: EventsOptions, hook: object) -> float:
    """CPU seconds per poll to poll ``options.jobs`` jobs to their end."""
    answered: dict[str, int] = {}

    async def fetch(job_id: str) -> tuple[JobStatus, float | None]:
        seen = answered[job_id] = answered.get(job_id, 0) + 1
        state = JobState.SUCCEEDED if seen >= options.polls else JobState.RUNNING
        return JobStatus(job_id, "bench", state, progress_percent=seen * 10.0), None

    on_event = None if hook is None else _noop
    async with Registry(on_event=on_event) as registry:
        poller = Poller("bench", fetch, registry, reports_progress=True, policy=_POLICY)
        async with poller:
            keys = [("bench", f"job-{n}") for n in range(options.jobs)]
            started = time.process_time()
            waits = [asyncio.ensure_future(registry.wait(key)) for key in keys]
            for _, job_id in keys:
                poller.track(job_id)
            await asyncio.gather(*waits)
            spent = time.process_time() - started
    return spent / (options.jobs * options.polls)


def _noop(event: Event) -> None:
    pass


def _check_seconds() -> float:
    """Seconds for one ``is not None`` check of an attribute, as the sources do it."""

    class Source:
        __slots__ = ("_on_event",)

        def __init__(self) -> None:
            self._on_event = None

    source = Source()
    loops = 2_000_000
    best = min(
        timeit.repeat("source._on_event is not None", globals={"source": source}, number=loops)
    )
    empty = min(timeit.repeat("source", globals={"source": source}, number=loops))
    return max(best - empty, 0.0) / loops


async def run(options: EventsOptions) -> ScenarioReport:
    without: list[float] = []
    with_hook: list[float] = []
    for round_ in range(options.rounds):
        order = [(None, without), (_noop, with_hook)]
        for hook, measured in order if round_ % 2 == 0 else reversed(order):
            measured.append(await _poll_all(options, hook))
    per_poll = statistics.median(without)
    hooked = statistics.median(with_hook)
    unused = _check_seconds() * _CHECKS_PER_POLL
    targets = (
        Target("an unused hook's checks as a share of a poll's CPU", unused / per_poll, 0.01),
    )
    text = "\n".join(
        [
            f"events: {options.jobs} jobs x {options.polls} polls from memory, "
            f"{options.rounds} rounds (median CPU per poll)",
            f"  without a hook      {per_poll * 1e6:8.2f} us per poll",
            f"  with a no-op hook   {hooked * 1e6:8.2f} us per poll"
            f"  ({hooked / per_poll:.3f} x without)",
            f"  {_CHECKS_PER_POLL} 'is not None' checks {unused * 1e9:6.1f} ns per poll"
            f"  ({unused / per_poll:.4f} of a poll without a hook)",
            format_targets(targets),
        ]
    )
    figures = {
        "us_per_poll_without_hook": round(per_poll * 1e6, 3),
        "us_per_poll_with_noop_hook": round(hooked * 1e6, 3),
        "ratio_with_to_without": round(hooked / per_poll, 4),
        "ns_unused_checks_per_poll": round(unused * 1e9, 2),
    }
    return ScenarioReport(name="events", text=text, targets=targets, figures=figures)
