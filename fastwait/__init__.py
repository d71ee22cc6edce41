"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

from typing import TYPE_CHECKING, Any

from fastwait import registry
from fastwait._client import Client, JobResult
from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait._version import installed_version
from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
    BadCallbackToken,
    BadResponseError,
    ChecksumMismatchError,
    ConfigurationError,
    ConflictError,
    DownloadError,
    ExpiredError,
    FastwaitError,
    ForbiddenError,
    InvalidRequestError,
    JobCanceled,
    JobError,
    JobFailed,
    MalformedHeader,
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    ServerError,
    SignatureMismatch,
    SpecError,
    TimestampOutOfTolerance,
    TransportError,
    UnsupportedOperationError,
    WaitTimeout,
    WebhookVerificationError,
)
from fastwait.polling import PollPolicy, PollStats
from fastwait.registry import MemoryResultStore, Registry, Resolution, ResultStore
from fastwait.webhooks import (
    CallbackBindings,
    CallbackClaim,
    CallbackTokens,
    StandardWebhookSigner,
    StandardWebhookVerifier,
)

if TYPE_CHECKING:
    from fastwait.registry import RedisResultStore, SQLiteResultStore

    __version__: str

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadCallbackToken",
    "BadResponseError",
    "CallbackBindings",
    "CallbackClaim",
    "CallbackTokens",
    "ChecksumMismatchError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DownloadError",
    "ExpiredError",
    "FastwaitError",
    "ForbiddenError",
    "InvalidRequestError",
    "JobAccepted",
    "JobCanceled",
    "JobError",
    "JobFailed",
    "JobResult",
    "JobState",
    "JobStatus",
    "MalformedHeader",
    "MemoryResultStore",
    "NotFoundError",
    "NotReadyError",
    "OutputInfo",
    "PollPolicy",
    "PollStats",
    "QueueInfo",
    "RateLimitedError",
    "RedisResultStore",
    "Registry",
    "Resolution",
    "ResultStore",
    "SQLiteResultStore",
    "ServerError",
    "SignatureMismatch",
    "SpecError",
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "TimestampOutOfTolerance",
    "TransportError",
    "UnsupportedOperationError",
    "WaitTimeout",
    "WebhookVerificationError",
]


def __getattr__(name: str) -> Any:
    """An exported name not bound yet is a store :mod:`fastwait.registry` loads when first
    named (Redis, SQLite): forwarded there, so ``import fastwait`` loads neither. Kept once
    loaded, where tools that read ``__dict__`` (pdoc) find it. ``__version__`` is read from
    the installed metadata when first asked for."""
    if name == "__version__":
        return installed_version()
    if name in __all__:
        value = getattr(registry, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
