"""What fastwait is doing, as typed values: the event hook for metrics, traces and logs.

Give a registry a hook, ``Registry(on_event=hook)``, and every source that feeds it reports
through that one callable: the poller, the webhook receiver mounted on the registry, and the
registry itself. Each event is a frozen value::

    PollSent          the poller sent a status request for a job
    PollFailed        that request failed: transient (retried later) or not (waiters get it)
    StatusSeen        a status reached the registry, by poll or webhook, with its percent
    JobResolved       a terminal status resolved the job here: its source and detection lag
    WebhookAccepted   the receiver applied a delivery (or acknowledged a duplicate)
    WebhookRefused    the receiver refused a request: the HTTP status and a fixed reason

The hook runs synchronously in the task that emitted the event and must not block (count,
record, hand over to a queue); an exception it raises is logged and never disturbs polling or
a webhook's answer. Without a hook nothing is built: each emitting place costs one ``None``
check. ``samples/metrics.py`` turns these events into Prometheus metrics.

Events never carry an API key, a webhook secret or a callback token; ``provider`` is the API's
route name (``compress``, ``media``, ...), never a string taken from a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from fastwait._models import JobState

__all__ = [
    "Event",
    "EventHook",
    "JobResolved",
    "PollFailed",
    "PollSent",
    "StatusSeen",
    "WebhookAccepted",
    "WebhookRefused",
]

log = logging.getLogger("fastwait.events")


@attrs.frozen
class PollSent:
    """The poller sent a status request for ``job_id``; ``poll`` counts them from 1."""

    provider: str
    job_id: str
    poll: int


@attrs.frozen
class PollFailed:
    """A status request for ``job_id`` failed with ``error``.

    ``transient`` errors (timeouts, resets, 429, 5xx) are retried with backoff; a permanent one
    (401, 404, ...) ends polling and is raised to the job's waiters.
    """

    provider: str
    job_id: str
    error: Exception
    transient: bool


@attrs.frozen
class StatusSeen:
    """A status of ``job_id`` reached the registry from ``source`` (``"poll"``, ``"webhook"``).

    ``percent`` is the API's progress, when it reports one.
    """

    provider: str
    job_id: str
    state: JobState
    percent: float | None
    source: str


@attrs.frozen
class JobResolved:
    """A terminal status resolved ``job_id`` in this process (once per job), from ``source``.

    ``lag`` bounds how long the result waited to be seen, in seconds: for a poll, the time since
    the previous poll still saw the job unfinished, or, found ended at the first poll, since
    the poller began tracking it (whenever the job was submitted: a job awaited long after it
    ended did not wait for this poller meanwhile); for a signed webhook, the time since its
    sender stamped it. None when unknown (a callback without a timestamp, a status published
    by other code).
    """

    provider: str
    job_id: str
    state: JobState
    source: str
    lag: float | None


@attrs.frozen
class WebhookAccepted:
    """The receiver applied a delivery for ``job_id``, or acknowledged a ``duplicate``.

    A duplicate is recognised by its ``webhook-id`` before its body is read, so its
    ``job_id`` is None.
    """

    provider: str
    job_id: str | None
    duplicate: bool


@attrs.frozen
class WebhookRefused:
    """The receiver answered ``status`` with the fixed error ``reason`` (``invalid_signature``,
    ``body_too_large``, ``body_timeout``, ...). ``provider`` is None when the request named
    none that is served (or carried a forged token).
    """

    provider: str | None
    status: int
    reason: str


Event = PollSent | PollFailed | StatusSeen | JobResolved | WebhookAccepted | WebhookRefused
"""Any of the events; match on the type."""

EventHook = Callable[[Event], None]
"""A callable taking each event; see the module docstring for what it may do."""


def emit(hook: EventHook, event: Event) -> None:
    """Call ``hook`` with ``event``; what it raises is logged, never propagated.

    For fastwait's sources, which check ``hook is not None`` first so that no event is built
    when nobody listens.
    """
    try:
        hook(event)
    except Exception:
        log.exception("event hook failed on %s", type(event).__name__)
