"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

import importlib
from typing import TYPE_CHECKING, Any

from fastwait._client import Client, JobResult
from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait.exceptions import (
    FastwaitError,
    JobCanceled,
    JobFailed,
    WaitTimeout,
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
    "CallbackBindings",
    "CallbackClaim",
    "CallbackTokens",
    "Client",
    "FastwaitError",
    "JobAccepted",
    "JobCanceled",
    "JobFailed",
    "JobResult",
    "JobState",
    "JobStatus",
    "MemoryResultStore",
    "OutputInfo",
    "PollPolicy",
    "PollStats",
    "QueueInfo",
    "RedisResultStore",
    "Registry",
    "Resolution",
    "ResultStore",
    "SQLiteResultStore",
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "WaitTimeout",
]


def __getattr__(name: str) -> Any:
    """The Redis and SQLite stores load when first named (``import fastwait`` stays light)."""
    if name in ("RedisResultStore", "SQLiteResultStore"):
        value = getattr(importlib.import_module("fastwait.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
