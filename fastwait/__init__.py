"""fastwait: await the results of remote jobs, by polling or by webhook, with one line."""

from fastwait._models import JobAccepted, JobState, JobStatus, OutputInfo, QueueInfo
from fastwait._registry import Registry
from fastwait._result_store import MemoryResultStore, Resolution, ResultStore
from fastwait._schedule import PollPolicy
from fastwait.exceptions import FastwaitError

__all__ = [
    "FastwaitError",
    "JobAccepted",
    "JobState",
    "JobStatus",
    "MemoryResultStore",
    "OutputInfo",
    "PollPolicy",
    "QueueInfo",
    "Registry",
    "Resolution",
    "ResultStore",
]
