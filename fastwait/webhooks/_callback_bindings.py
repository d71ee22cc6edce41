"""Which job a submission nonce stands for, shared by the client and the receiver.

A callback URL must be chosen before the job exists, so its token may name a random nonce
instead of a job id (:meth:`fastwait.CallbackTokens.for_submission`). The nonce is tied to one
job id by whichever side learns it first: the client when the submit answer arrives, or the
receiver when the first authentic callback names it. After that, a callback with the same token
for another job is refused, so a leaked token cannot speak for other jobs.
"""

from __future__ import annotations

import collections

from fastwait.exceptions import ConfigurationError

__all__ = ["CallbackBindings"]


class CallbackBindings:
    """``(provider, nonce) -> job id`` for at most ``capacity`` nonces, oldest forgotten first.

    A forgotten nonce binds afresh on its next use; size ``capacity`` above the number of jobs
    in flight at once. Use it from one event loop.
    """

    __slots__ = ("_capacity", "_jobs")

    def __init__(self, capacity: int = 100_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError("bindings capacity must be an int >= 1")
        self._capacity = capacity
        self._jobs: collections.OrderedDict[tuple[str, str], str] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._jobs)

    def __repr__(self) -> str:
        return f"CallbackBindings({len(self._jobs)}/{self._capacity})"

    def bind(self, provider: str, nonce: str, job_id: str) -> bool:
        """Tie ``nonce`` to ``job_id``; False (and nothing changes) if it is tied to another job."""
        key = (provider, nonce)
        bound = self._jobs.get(key)
        if bound is not None:
            return bound == job_id
        self._jobs[key] = job_id
        while len(self._jobs) > self._capacity:
            self._jobs.popitem(last=False)
        return True

    def job_id(self, provider: str, nonce: str) -> str | None:
        """The job ``nonce`` is tied to, or None if it is not (or no longer) bound."""
        return self._jobs.get((provider, nonce))
