"""fastwait's one exception tree.

Every error fastwait raises on purpose derives from :class:`FastwaitError`; no aiohttp, cattrs or
cryptography exception type reaches a caller (they are mapped at the boundary, ``raise ... from``)::

    FastwaitError
    ├── ConfigurationError          bad arguments or settings (also a ValueError)
    │   └── SpecError               a declared API spec that is wrong: which field, and why
    ├── UnsupportedOperationError   the provider's API has no such endpoint
    ├── TransportError              connection refused/reset, timeout            (transient)
    ├── BadResponseError            not what the API specifies        (transient if truncated)
    ├── ApiError                    an error answer of the API: status, code, detail
    │   ├── InvalidRequestError     400, 413, 415, 422
    │   ├── AuthenticationError     401
    │   ├── ForbiddenError          403
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   │   └── NotReadyError       409 ``jobs.not_ready``, ``compare.not_ready``, ``not-ready``
    │   ├── ExpiredError            410: output artifacts were cleaned up
    │   ├── RateLimitedError        429                                          (transient)
    │   └── ServerError             5xx                                (transient: 500, 502-504)
    ├── DownloadError               the output could not be saved
    │   └── ChecksumMismatchError   the bytes do not match the API's sha1
    ├── WebhookVerificationError    a webhook that must not be trusted
    │   ├── MalformedHeader         a Standard Webhooks header missing or not to the spec
    │   ├── TimestampOutOfTolerance ``webhook-timestamp`` too far from now (replay)
    │   ├── SignatureMismatch       no signature made by a configured key over the bytes
    │   └── BadCallbackToken        a callback token malformed, forged or of another secret
    └── JobError                    the awaited job did not succeed
        ├── JobFailed               the job ended FAILED: code and detail from the API
        ├── JobCanceled             the job ended CANCELED
        └── WaitTimeout             the caller's deadline passed (also a TimeoutError)

``error.transient`` tells a caller (and the poller) whether the same request may succeed later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastwait._models import JobStatus

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadCallbackToken",
    "BadResponseError",
    "ChecksumMismatchError",
    "ConfigurationError",
    "ConflictError",
    "DownloadError",
    "ExpiredError",
    "FastwaitError",
    "ForbiddenError",
    "InvalidRequestError",
    "JobCanceled",
    "JobError",
    "JobFailed",
    "MalformedHeader",
    "NotFoundError",
    "NotReadyError",
    "RateLimitedError",
    "ServerError",
    "SignatureMismatch",
    "SpecError",
    "TimestampOutOfTolerance",
    "TransportError",
    "UnsupportedOperationError",
    "WaitTimeout",
    "WebhookVerificationError",
]


class FastwaitError(Exception):
    """Root of every error fastwait raises on purpose."""

    transient: bool = False
    """True when the same request may succeed if it is simply tried again later."""


class ConfigurationError(FastwaitError, ValueError):
    """An argument or setting is invalid; nothing was sent."""


class SpecError(ConfigurationError):
    """A declared API spec is wrong: ``field`` is its dotted path (``status.state``),
    ``reason`` says why. Raised before any request is made."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.field, self.reason))

    def within(self, outer: str) -> SpecError:
        """The same error with ``outer`` (a table or a file name) put before its field."""
        return SpecError(f"{outer}.{self.field}" if self.field else outer, self.reason)


class UnsupportedOperationError(FastwaitError):
    """The provider's API has no endpoint for this operation (e.g. ``compare`` on media jobs)."""


class TransportError(FastwaitError):
    """The request did not get an HTTP answer: refused, reset, or timed out."""

    transient = True


class BadResponseError(FastwaitError):
    """The API answered with a body that does not match its specification.

    ``transient`` is true when the body was cut short (truncated JSON), which a retry usually
    cures; a well-formed body of the wrong shape is permanent.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ApiError(FastwaitError):
    """An error answer of a job API.

    ``status`` is the HTTP status, ``code`` the API's machine-readable code (``jobs.not_found``,
    ``not-found``, ...; None when the API gave none) and ``detail`` its human-readable text.
    ``retry_after`` is the delay in seconds the API asked for, if any.
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.status, self.code, self.detail, self.retry_after),
        )


def _rebuild_api_error(
    cls: type[ApiError],
    status: int,
    code: str | None,
    detail: str | None,
    retry_after: float | None,
) -> ApiError:
    return cls(status, code, detail, retry_after=retry_after)


class InvalidRequestError(ApiError):
    """The API rejected the request itself (400, 413, 415, 422)."""


class AuthenticationError(ApiError):
    """401: the API key or token is invalid (or the caller's IP is not allowed)."""


class ForbiddenError(ApiError):
    """403: the job belongs to another account."""


class NotFoundError(ApiError):
    """404: the job (or route) does not exist."""


class ConflictError(ApiError):
    """409: the job is in a state that does not allow the operation."""


class NotReadyError(ConflictError):
    """409: the output or comparison is not ready because the job has not succeeded yet."""


class ExpiredError(ApiError):
    """410: the job's output artifacts were cleaned up (tools.fast keeps them one hour)."""


class RateLimitedError(ApiError):
    """429: too many requests; ``retry_after`` says how long the API asked to wait."""

    transient = True


class ServerError(ApiError):
    """5xx: the API failed; 500 and 502-504 are transient, other 5xx codes are not."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, detail, retry_after=retry_after)
        self.transient = status in (500, 502, 503, 504)


class DownloadError(FastwaitError):
    """The job's output could not be saved; nothing was left under the final name."""


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes do not match the checksum the API published."""


class WebhookVerificationError(FastwaitError):
    """A webhook's signature, timestamp, token or body must not be trusted."""


class MalformedHeader(WebhookVerificationError):
    """A Standard Webhooks header is missing, duplicated or does not follow the spec's syntax."""


class TimestampOutOfTolerance(WebhookVerificationError):
    """``webhook-timestamp`` is further from the verifier's clock than its tolerance allows.

    ``timestamp`` and ``now`` are in seconds since the epoch; a timestamp in the future is
    rejected as well as a stale one, since either lets a captured request be replayed later.
    """

    def __init__(self, message: str, *, timestamp: int, now: float) -> None:
        super().__init__(message)
        self.timestamp = timestamp
        self.now = now


class SignatureMismatch(WebhookVerificationError):
    """No signature in the header was made by any configured key over these bytes."""


class BadCallbackToken(WebhookVerificationError):
    """A per-job callback token is malformed, forged or was issued under another secret."""


class JobError(FastwaitError):
    """The awaited job did not end SUCCEEDED."""


class JobFailed(JobError):
    """The job ended FAILED: ``code`` and ``detail`` are the provider's."""

    def __init__(self, status: JobStatus) -> None:
        self.status = status
        self.code = status.error_code
        self.detail = status.error_detail
        reason = ": ".join(p for p in (self.code, self.detail) if p) or "no reason given"
        super().__init__(f"{status.provider} job {status.id} failed ({reason})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status,))


class JobCanceled(JobError):
    """The job ended CANCELED."""

    def __init__(self, status: JobStatus) -> None:
        self.status = status
        super().__init__(f"{status.provider} job {status.id} was canceled")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status,))


class WaitTimeout(JobError, TimeoutError):
    """The caller's deadline passed before the job reached a terminal state.

    The job itself may still finish; ``last_status`` is the newest non-terminal status seen, if
    any. ``last_error`` is what last went wrong while trying to learn the job's status (the API
    or the store could not be reached, an error answer) when nothing was learned since; it is
    also the exception's ``__cause__``.
    """

    def __init__(
        self,
        provider: str,
        job_id: str,
        timeout: float,
        last_status: JobStatus | None = None,
        last_error: FastwaitError | None = None,
    ) -> None:
        self.provider = provider
        self.job_id = job_id
        self.timeout = timeout
        self.last_status = last_status
        self.last_error = last_error
        message = f"{provider} job {job_id} did not finish within {timeout:g} s"
        if last_error is not None:
            message += f"; last error: {type(last_error).__name__}: {last_error}"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (self.provider, self.job_id, self.timeout, self.last_status, self.last_error),
        )
