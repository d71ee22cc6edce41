"""When failing polls are worth telling a person; pure, tested without an event loop.

A reset or a 503 among answers is the network being a network: the poller retries it quietly.
Polls that have all failed for ``patience`` seconds, with no success in between, are an outage
(a wrong URL, a server or a Redis down, TLS spoken to a plain port) that must not stay silent.
The poller keeps one :class:`Outage` per thing it depends on (the API, the result store).
"""

from __future__ import annotations

import attrs

__all__ = ["Outage"]


@attrs.define
class Outage:
    """Failures of one dependency since its last success (times on the poller's clock)."""

    patience: float = 1.0
    """Seconds of nothing but failures after which the failures are an outage."""
    began_at: float | None = None
    """When the current run of failures began; None while the dependency answers."""

    def failed(self, now: float) -> float | None:
        """Record a failure at ``now``; the outage's length once it lasted ``patience``.

        None while the failures are younger than ``patience``.
        """
        if self.began_at is None:
            self.began_at = now
        lasted = now - self.began_at
        return lasted if lasted >= self.patience else None

    def succeeded(self) -> bool:
        """Record a success; True when it ends a run of failures."""
        ended = self.began_at is not None
        self.began_at = None
        return ended
