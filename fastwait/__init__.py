"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

from fastwait._callback_bindings import CallbackBindings
from fastwait._callback_tokens import CallbackClaim, CallbackTokens
from fastwait._client import Client, JobResult
from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait._poller import PollStats
from fastwait._redis_store import RedisResultStore
from fastwait._registry import Registry
from fastwait._result_store import MemoryResultStore, Resolution, ResultStore
from fastwait._schedule import PollPolicy
from fastwait._sqlite_store import SQLiteResultStore
from fastwait.exceptions import (
    FastwaitError,
    JobCanceled,
    JobFailed,
    WaitTimeout,
)
from fastwait.webhooks import StandardWebhookSigner, StandardWebhookVerifier

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
