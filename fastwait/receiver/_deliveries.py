"""Which signed deliveries were already applied: a bounded memory of ``webhook-id`` values.

Standard Webhooks senders retry until they see a 2xx, and may deliver one message twice; the
``webhook-id`` names the message, not the attempt. Remembering applied ids lets a retry be
acknowledged without applying it again. An id is remembered only once its status was published,
so an attempt that failed on our side can be retried; while an attempt is in flight a concurrent
copy is told to come back later rather than applied twice. Memory is bounded: the least recently
seen ids are forgotten first (a very late duplicate is then applied again, which the registry's
first-terminal-wins rule makes harmless).
"""

from __future__ import annotations

import collections
import enum

from fastwait.exceptions import ConfigurationError

__all__ = ["Delivery", "RecentDeliveries"]

DeliveryKey = str
"""The ``webhook-id``. One verifier (one secret) serves every route, and its signature does not
cover the route: a delivery replayed to another provider's route is the same delivery."""


class Delivery(enum.Enum):
    """What is known of a delivery when it arrives."""

    NEW = "new"
    IN_FLIGHT = "in_flight"
    APPLIED = "applied"


class RecentDeliveries:
    """At most ``capacity`` applied delivery ids, least recently seen evicted first."""

    __slots__ = ("_applied", "_capacity", "_in_flight")

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError("dedupe_capacity must be an int >= 1")
        self._capacity = capacity
        self._applied: collections.OrderedDict[DeliveryKey, None] = collections.OrderedDict()
        self._in_flight: set[DeliveryKey] = set()

    def __len__(self) -> int:
        return len(self._applied)

    def begin(self, key: DeliveryKey) -> Delivery:
        """Classify ``key``; a NEW one is in flight until :meth:`finish` is called for it."""
        if key in self._applied:
            self._applied.move_to_end(key)
            return Delivery.APPLIED
        if key in self._in_flight:
            return Delivery.IN_FLIGHT
        self._in_flight.add(key)
        return Delivery.NEW

    def finish(self, key: DeliveryKey, *, applied: bool) -> None:
        """End the attempt begun for ``key``; remember it only if it was ``applied``."""
        self._in_flight.discard(key)
        if not applied:
            return
        self._applied[key] = None
        self._applied.move_to_end(key)
        while len(self._applied) > self._capacity:
            self._applied.popitem(last=False)
