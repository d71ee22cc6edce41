"""Where results meet: the future-based registry and the stores that keep its results.

Every source of statuses (the poller, the webhook receiver, another replica) publishes into a
:class:`Registry`; every caller awaits it. The registry keeps the waiters' futures in process
memory; a :class:`ResultStore` keeps the results: in memory (:class:`MemoryResultStore`, the
default), in a SQLite journal that outlives the process (:class:`SQLiteResultStore`), or in
Redis, shared by replicas (:class:`RedisResultStore`, the ``fastwait[redis]`` extra).
"""

from fastwait.registry._memory import MemoryResultStore
from fastwait.registry._redis import RedisResultStore
from fastwait.registry._registry import Registry
from fastwait.registry._sqlite import SQLiteResultStore
from fastwait.registry._store import (
    JobJournal,
    JobKey,
    PollLease,
    Resolution,
    ResultStore,
    TrackedJob,
)

__all__ = [
    "JobJournal",
    "JobKey",
    "MemoryResultStore",
    "PollLease",
    "RedisResultStore",
    "Registry",
    "Resolution",
    "ResultStore",
    "SQLiteResultStore",
    "TrackedJob",
]
