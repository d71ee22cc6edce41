"""What every provider shares: error answers to exceptions, and the checks that keep them safe.

Each provider module knows its own error envelope and codes; this module turns ``(HTTP status,
code)`` into the exception class, reads ``Retry-After``, strips credentials from any text the
server sent back, and validates what ends up in a URL (base URLs, job ids, download URLs), so
the rules are written once and tested once.
"""

from __future__ import annotations

import email.utils
import json
import re
import urllib.parse
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastwait._models import JobState
from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    ConfigurationError,
    ConflictError,
    ExpiredError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    ServerError,
)

__all__ = [
    "api_error",
    "decode_json",
    "error_class",
    "header_value",
    "job_state",
    "parse_retry_after",
    "payload_job_id",
    "redact",
    "require_base_url",
    "require_http_url",
    "require_job_id",
    "require_secret",
    "resolve_download_url",
    "same_origin",
]

_BY_STATUS: Mapping[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: ExpiredError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def error_class(
    http_status: int, code: str | None, not_ready_codes: Collection[str] = ()
) -> type[ApiError]:
    """The exception class for an error answer.

    The status decides; the code only refines a 409 into :class:`NotReadyError` when it is one
    of the provider's ``not_ready_codes`` (a conflict that waiting cures). Statuses the APIs do
    not document fall back to :class:`ApiError`, or :class:`ServerError` for any 5xx.
    """
    if http_status == 409 and code in not_ready_codes:
        return NotReadyError
    if 500 <= http_status <= 599:
        return ServerError
    return _BY_STATUS.get(http_status, ApiError)


def api_error(
    http_status: int,
    code: str | None,
    detail: str | None,
    headers: Mapping[str, str],
    *,
    not_ready_codes: Collection[str] = (),
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> ApiError:
    """Build the error for an answer whose envelope the provider already read.

    ``secrets`` are removed from ``code`` and ``detail`` (servers do echo API keys back);
    ``now`` is the clock for an HTTP-date ``Retry-After`` (default: the current time).
    """
    secrets = tuple(secrets)
    cls = error_class(http_status, code, not_ready_codes)
    retry_after = parse_retry_after(header_value(headers, "Retry-After"), now or datetime.now(UTC))
    return cls(
        http_status,
        redact(code, secrets),
        redact(detail, secrets),
        retry_after=retry_after,
    )


def decode_json(body: bytes) -> Any:
    """The decoded body, or None when it is empty or not JSON (error bodies often are HTML)."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts as well as multidicts."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or None if there is no usable one.

    Both forms of RFC 9110 are read: delta-seconds (``"120"``; a decimal fraction is tolerated)
    and an HTTP-date, measured from ``now`` (a naive ``now`` is taken as UTC). A date already
    past gives 0.0: the server allows a retry right away. Negative numbers and anything
    unparseable give None, leaving the delay to the caller's own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_REDACTED = "[redacted]"


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every occurrence of each secret replaced, so no message carries a key."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def require_secret(value: object, what: str) -> str:
    """Validate an API key or token without ever echoing it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a non-empty string")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ConfigurationError(f"{what} must not contain whitespace or control characters")
    return value


def require_http_url(value: object, what: str) -> str:
    """An absolute http(s) URL with a host and nothing that could smuggle in credentials."""
    if not isinstance(value, str) or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ConfigurationError(f"{what} must be an http(s) URL without whitespace")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what} must not contain credentials")
    return value


def require_base_url(value: object) -> str:
    """A provider's base URL: http(s), a host, no query or fragment; trailing slashes dropped.

    The message never repeats the URL, which might hold credentials.
    """
    url = require_http_url(value, "base_url").rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError("base_url must not have a query or fragment")
    return url


_JOB_ID = re.compile(r"[A-Za-z0-9._~-]+")


def require_job_id(job_id: object) -> str:
    """The job id as a single URL path segment.

    Only RFC 3986 unreserved characters are allowed, and ``.``/``..`` are refused, so an id can
    never add, remove or climb path segments; anything else is a :class:`ConfigurationError`.
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id) or job_id in (".", ".."):
        shown = repr(job_id) if len(repr(job_id)) <= 80 else repr(job_id)[:77] + "..."
        raise ConfigurationError(
            f"job id {shown} must be non-empty, use only A-Z a-z 0-9 . _ ~ -, and not be . or .."
        )
    return urllib.parse.quote(job_id, safe="")


def job_state(
    states: Mapping[str, JobState], status: str, *, source: str, secrets: Iterable[str]
) -> JobState:
    """The normalized state an API's status name stands for (names match case-insensitively).

    An unknown name is a :class:`BadResponseError`: a client that guessed would either stop
    polling a running job or poll a finished one forever.
    """
    state = states.get(status.casefold())
    if state is None:
        shown = redact(status[:40], secrets)
        raise BadResponseError(f"{source}: unknown job status {shown!r} @ $.status")
    return state


def payload_job_id(job_id: str, *, source: str, field: str) -> str:
    """A job id read from a payload, held to the same rule as ids the caller passes.

    An id the API (or a webhook sender) gives is later put into request paths and registry
    keys, so an empty one or one with ``/`` is a :class:`BadResponseError` naming ``field``.
    """
    if not _JOB_ID.fullmatch(job_id) or job_id in (".", ".."):
        raise BadResponseError(f"{source}: not a valid job id @ {field}")
    return job_id


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname or "", port or _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, other: str) -> bool:
    """True when both URLs share scheme, host and (effective) port: who may see credentials."""
    mine = _origin(url)
    return mine is not None and mine[1] != "" and mine == _origin(other)


def resolve_download_url(base_url: str, url: str, *, source: str, field: str) -> str:
    """An API-given download URL made absolute against ``base_url`` (RFC 3986 resolution).

    Raises :class:`BadResponseError` naming ``field`` (a wire path such as ``$.downloadUrl``)
    when the result is not an http(s) URL with a host.
    """
    try:
        resolved = urllib.parse.urljoin(base_url + "/", url)
        require_http_url(resolved, field)
    except (ConfigurationError, ValueError):
        raise BadResponseError(f"{source}: expected an http(s) URL @ {field}") from None
    return resolved
