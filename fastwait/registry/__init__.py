"""Where results meet: the future-based registry and the stores that keep its results.

Every source of statuses (the poller, the webhook receiver, another replica) publishes into a
:class:`Registry`; every caller awaits it. The registry keeps the waiters' futures in process
memory; a :class:`ResultStore` keeps the results: in memory (:class:`MemoryResultStore`, the
default), in a SQLite journal that outlives the process (:class:`SQLiteResultStore`), or in
Redis, shared by replicas (:class:`RedisResultStore`, the ``fastwait[redis]`` extra). The last
two load when first named, so that ``import fastwait`` costs neither.
"""

import importlib
from typing import TYPE_CHECKING, Any

from fastwait.registry._memory import MemoryResultStore
from fastwait.registry._registry import Registry
from fastwait.registry._store import (
    JobJournal,
    JobKey,
    PollLease,
    Resolution,
    ResultStore,
    TrackedJob,
)

if TYPE_CHECKING:
    from fastwait.registry._redis import RedisResultStore
    from fastwait.registry._sqlite import SQLiteResultStore

_LOADED_WHEN_NAMED = {
    "RedisResultStore": "fastwait.registry._redis",
    "SQLiteResultStore": "fastwait.registry._sqlite",
}

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


def __getattr__(name: str) -> Any:
    """Load a store that ``import fastwait`` leaves out until someone names it."""
    module = _LOADED_WHEN_NAMED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
