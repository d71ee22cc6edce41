"""Where the next poll is decided, and the task that carries the decisions out.

* :mod:`~fastwait.polling._schedule` is pure: "given what is known of this job now, when is the
  next poll?" as a function of plain values and a clock reading (:func:`next_poll_at`, tuned by
  :class:`PollPolicy`), tested in tables without an event loop;
* :mod:`~fastwait.polling._learning` remembers what the jobs a poller saw end say about the
  next ones (:class:`PollHistory`, read by the schedule as an :class:`Experience`), pure too;
* :mod:`~fastwait.polling._poller` is the one scheduler task per provider that keeps a heap of
  due times, sends the requests and publishes what it learns into the registry.
"""

from fastwait.polling._job_age import uuid7_created_at
from fastwait.polling._learning import Experience, PollHistory
from fastwait.polling._poller import FetchStatus, Poller, PollStats
from fastwait.polling._schedule import JobKnowledge, PollPolicy, next_poll_at

__all__ = [
    "Experience",
    "FetchStatus",
    "JobKnowledge",
    "PollHistory",
    "PollPolicy",
    "PollStats",
    "Poller",
    "next_poll_at",
    "uuid7_created_at",
]
