"""Checks on values that enter from callers or payloads: secrets, job ids, status names.

A job id ends up in request paths and registry keys, and a status name decides whether polling
stops, so each is held to one rule here whether the caller or the API supplied it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from fastwait._models import JobState, JobStatus
from fastwait.exceptions import BadResponseError, ConfigurationError
from fastwait.providers._errors import redact

__all__ = [
    "is_job_id",
    "is_status_of",
    "is_uuid7",
    "job_state",
    "payload_job_id",
    "require_job_id",
    "require_secret",
    "require_status_of",
    "uuid7_hex",
]


def require_secret(value: object, what: str) -> str:
    """Validate an API key or token without ever echoing it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a non-empty string")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ConfigurationError(f"{what} must not contain whitespace or control characters")
    return value


_JOB_ID = re.compile(r"[A-Za-z0-9._~-]+")


def is_job_id(value: str) -> bool:
    """Whether ``value`` follows the rule :func:`require_job_id` enforces."""
    return _JOB_ID.fullmatch(value) is not None and value not in (".", "..")


_HEX = frozenset("0123456789abcdefABCDEF")


def uuid7_hex(job_id: str) -> str | None:
    """The 32 hex digits of a UUIDv7 (RFC 9562) id, or None for any other id.

    Accepts the 32-hex form tools.fast uses (``019c56457340753ba9441d7b4e6516a0``) and the
    dashed form (``0195e2a0-1234-7000-8000-000000000001``); the version nibble must be 7 and
    the variant bits ``10``.
    """
    digits = job_id.replace("-", "") if len(job_id) == 36 else job_id
    if len(digits) != 32 or not _HEX.issuperset(digits):
        return None
    if len(job_id) == 36 and [len(p) for p in job_id.split("-")] != [8, 4, 4, 4, 12]:
        return None
    if digits[12] != "7" or digits[16].lower() not in "89ab":
        return None
    return digits


def is_uuid7(job_id: str) -> bool:
    """Whether ``job_id`` is a UUIDv7 (GUIDv7), in either form :func:`uuid7_hex` reads."""
    return uuid7_hex(job_id) is not None


def require_job_id(job_id: object) -> str:
    """The job id, fit to be a single URL path segment as it is (nothing in it needs quoting).

    Only RFC 3986 unreserved characters are allowed, and ``.``/``..`` are refused, so an id can
    never add, remove or climb path segments; anything else is a :class:`ConfigurationError`.
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id) or job_id in (".", ".."):
        shown = repr(job_id) if len(repr(job_id)) <= 80 else repr(job_id)[:77] + "..."
        raise ConfigurationError(
            f"job id {shown} must be non-empty, use only A-Z a-z 0-9 . _ ~ -, and not be . or .."
        )
    return job_id


def job_state(
    states: Mapping[str, JobState], status: str, *, source: str, secrets: Iterable[str]
) -> JobState:
    """The normalized state an API's status name stands for (names match case-insensitively).

    An unknown name is a :class:`BadResponseError`: a client that guessed would either stop
    polling a running job or poll a finished one forever.
    """
    state = states.get(status.casefold())
    if state is None:
        shown = (redact(status, secrets) or "")[:40]  # redacted first: a cut key is no match
        raise BadResponseError(f"{source}: unknown job status {shown!r} @ $.status")
    return state


def payload_job_id(job_id: str, *, source: str, field: str) -> str:
    """A job id read from a payload, held to the same rule as ids the caller passes.

    An id the API (or a webhook sender) gives is later put into request paths and registry
    keys, so an empty one or one with ``/`` is a :class:`BadResponseError` naming ``field``.
    """
    if not is_job_id(job_id):
        raise BadResponseError(f"{source}: not a valid job id @ {field}")
    return job_id


def is_status_of(status: JobStatus, provider: str, job_id: str) -> bool:
    """Whether ``status`` is about job ``job_id`` of ``provider``: the one test the poller
    (an answer to a poll) and the receiver (a callback for a job) apply to what they are told."""
    return status.id == job_id and status.provider == provider


def require_status_of(status: JobStatus, provider: str, job_id: str) -> JobStatus:
    """``status``, when :func:`is_status_of` the job asked about.

    An answer naming another job is a transient :class:`BadResponseError` for the job asked
    about, never a result for the other one: a cache or proxy mixing up answers, or a hostile
    API, must neither resolve a job nobody polled nor stop the polling of this one. The other
    id is not repeated (it is the API's text, and may echo anything).
    """
    if not is_status_of(status, provider, job_id):
        raise BadResponseError(
            f"{provider}: the status answer for job {job_id} is about another job",
            transient=True,
        )
    return status
