"""Telling a person about a lasting trouble once, then now and then, never once per event.

A store that cannot write, an API or a Redis that cannot be reached fail every request while
they last: a warning per failure would bury the terminal (a thousand jobs, a thousand lines)
and a warning at DEBUG would hide it. :class:`RateLimitedNotice` says the first at WARNING,
repeats at most every ``interval`` seconds, and says once when the trouble is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimitedNotice"]


class RateLimitedNotice:
    """One lasting trouble, said on ``logger`` at WARNING at most every ``interval`` seconds.

    Safe to call from any thread (the SQLite writer says its failures from its own). Between
    two warnings the same message goes to DEBUG, so nothing is lost for whoever asks for it.
    A trouble that comes and goes faster than ``interval`` is still said once per interval.
    """

    __slots__ = (
        "_clock",
        "_interval",
        "_lock",
        "_logger",
        "_suppressed",
        "_warned",
        "_warned_at",
    )

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._warned = False
        self._warned_at: float | None = None
        self._suppressed = 0

    def say(self, message: str, *args: object) -> bool:
        """Log ``message % args`` at WARNING unless a warning went out less than ``interval``
        ago (then at DEBUG). Returns True when it was said at WARNING.
        """
        now = self._clock()
        with self._lock:
            due = self._warned_at is None or now - self._warned_at >= self._interval
            if due:
                self._warned_at = now
                self._warned = True
                suppressed, self._suppressed = self._suppressed, 0
            else:
                self._suppressed += 1
        if not due:
            self._logger.debug(message, *args)
            return False
        if suppressed:
            message += " (and %d times more since it was last said)"
            args = (*args, suppressed)
        self._logger.warning(message, *args)
        return True

    def over(self, message: str, *args: object) -> None:
        """The trouble ended: say ``message`` at WARNING if it was said at WARNING."""
        with self._lock:
            warned, self._warned = self._warned, False
        if warned:
            self._logger.warning(message, *args)
