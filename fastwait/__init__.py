"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

import importlib
from typing import TYPE_CHECKING, Any

from fastwait._client import Client, JobResult
from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait._version import __version__ as __version__
from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
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
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    ServerError,
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

__all__ = [
    "ApiError",
    "AuthenticationError",
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
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "TransportError",
    "UnsupportedOperationError",
    "WaitTimeout",
    "WebhookVerificationError",
]


def __getattr__(name: str) -> Any:
    """The Redis and SQLite stores load when first named (``import fastwait`` stays light)."""
    if name in ("RedisResultStore", "SQLiteResultStore"):
        value = getattr(importlib.import_module("fastwait.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
