"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

from fastwait._client import Client, JobResult
from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait._version import __version__ as __version__
from fastwait.exceptions import (
    FastwaitError,
    JobCanceled,
    JobFailed,
    WaitTimeout,
)
from fastwait.polling import PollPolicy, PollStats
from fastwait.registry import (
    MemoryResultStore,
    RedisResultStore,
    Registry,
    Resolution,
    ResultStore,
    SQLiteResultStore,
)
from fastwait.webhooks import (
    CallbackBindings,
    CallbackClaim,
    CallbackTokens,
    StandardWebhookSigner,
    StandardWebhookVerifier,
)

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
