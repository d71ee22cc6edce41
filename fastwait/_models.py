"""The normalized job model every provider translates into.

These are plain frozen values: no I/O and no (de)serialization logic (that lives in the private
cattrs converter of each provider module), so the poller, the receiver and the registry backends
all speak the same language whatever API a job came from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

__all__ = ["JobAccepted", "JobState", "JobStatus", "OutputInfo", "QueueInfo"]


class JobState(enum.Enum):
    """Where a job is in its life, whatever the provider calls it."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change state."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED})

EMPTY_MAPPING: Final[Mapping[str, Any]] = MappingProxyType({})
"""The one empty mapping every default shares: a value kept for 100,000 jobs must not carry
a dict of its own per empty field."""


@attrs.frozen
class OutputInfo:
    """What a finished job produced, as far as its API tells.

    ``file_name`` is the name the API suggests (never trusted as a path: downloads sanitize it);
    ``sha1`` is set where the API publishes a checksum (compressor.app).
    """

    file_name: str | None = None
    content_type: str | None = None
    file_count: int | None = None
    size: int | None = None
    sha1: str | None = None


@attrs.frozen(eq=True, hash=False)
class JobStatus:
    """One observation of a job, normalized.

    ``progress_percent`` is 0-100 when the API reports progress, else None. ``download_url`` is
    the absolute URL the API gave for the output (compressor.app ``url``, media ``downloadUrl``);
    None where downloads go through the provider's fixed download endpoint.

    ``raw`` is the provider's payload exactly as decoded, for anything the model does not carry,
    but only when asked for (``keep_raw=True`` on the ``Client``, the receiver or
    ``Provider.parse_status``); otherwise it is empty. Results are kept (in the registry's
    store, a journal, Redis), and the payload would be most of what each of them costs.
    Mappings are kept as given, not copied: do not change one after passing it in.

    A provider whose API does not name the job in its status answer leaves ``id`` empty: the
    :class:`~fastwait.Client` fills in the id it asked about, and the webhook receiver the job
    of a callback token (a signed webhook naming no job is refused).
    """

    id: str
    provider: str
    state: JobState
    progress_percent: float | None = None
    progress_phase: str | None = None
    metrics: Mapping[str, Any] = EMPTY_MAPPING
    output: OutputInfo | None = None
    error_code: str | None = None
    error_detail: str | None = None
    download_url: str | None = None
    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAPPING, repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal


@attrs.frozen
class QueueInfo:
    """The queue a job entered, as tools.fast reports it at submission."""

    pool: str | None = None
    position: int | None = None
    total_queued: int | None = None
    estimate: str | None = None
    estimate_seconds: float | None = None
    """``estimate`` parsed to seconds (``"< 5s"`` -> 5.0); None when absent or unparseable."""


@attrs.frozen(eq=True, hash=False)
class JobAccepted:
    """The API's acknowledgement of a submitted job.

    ``queue`` and ``stats`` are filled where the API gives them (tools.fast); ``created_at`` is the
    API's own timestamp of the job (media ``createdAt``, tools.fast ``timeline.queuedAt``);
    ``raw`` is the submit response as decoded. Mappings are kept as given, not copied.
    """

    id: str
    provider: str
    state: JobState
    queue: QueueInfo | None = None
    stats: Mapping[str, Any] = EMPTY_MAPPING
    created_at: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAPPING, repr=False)
