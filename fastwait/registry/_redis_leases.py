"""Poll leases among replicas sharing Redis: one replica polls each job, and the jobs of a dead
replica move on within seconds, for a few Redis commands per job.

The shape, and what each part costs and bounds:

* **A lease names its holder** (``{prefix}lease:{provider}:{job_id}``). One script takes it at
  the job's first look, in the same round trip that looks for a stored result (a stored one is
  returned instead). The holder does not renew it at every poll: it keeps the grant in memory
  and renews it only once half its lifetime (the poller's ``seconds``, longer than any delay
  between two polls) is gone. A job resolved sooner costs one lease command however many
  times it is polled; storing its result deletes the lease.
* **Liveness is per replica, not per job.** A replica that holds or follows leases refreshes
  ``{prefix}replica:{id}`` (``PX liveness_ttl``) every third of ``liveness_ttl``, in a script
  that also names the holders it follows whose key is gone. A holder that dies stops
  refreshing; at most ``liveness_ttl`` later its key is gone, at most a third of it later its
  followers hear so and look at once, and the lease script grants a lease whose holder is not
  alive. A dead replica costs its jobs at most ``4/3 * liveness_ttl`` of extra lag (4 s by
  default), for one command per replica every ``liveness_ttl / 3`` s, whatever the number of
  jobs.
* **A holder that stops polling a job unresolved** (its waiters left, a permanent error)
  deletes its lease and says so on the results channel, so that a follower looks at once. A
  lease that outlives all of this (its release failed) lapses after its lifetime, as before.
* **A holder whose liveness key expired while it lived** (a stalled event loop) may have been
  replaced: it forgets its grants and asks again before its next polls. Two replicas may then
  poll one job for a while, which costs requests, never a result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from fastwait.registry._store import JobKey

__all__ = ["PollLeases"]

log = logging.getLogger("fastwait.store.redis")

_ACQUIRE: Final = """
local result = redis.call('GET', KEYS[2])
if result then
  return result
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. holder) == 1 then
  return {holder, redis.call('PTTL', KEYS[1])}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
"""KEYS: lease, result, own liveness. ARGV: replica id, lease ms, liveness ms, liveness prefix.
The stored result; 1 when granted; or {holder, lease ms left} while a live holder has it."""

_BEAT: Final = """
local alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local dead = {}
for i = 3, #ARGV do
  if redis.call('EXISTS', ARGV[2] .. ARGV[i]) == 0 then
    dead[#dead + 1] = ARGV[i]
  end
end
return {alive, dead}
"""
"""KEYS: own liveness. ARGV: liveness ms, liveness prefix, followed holder ids.
{1 if this replica was still alive, the followed holders that are not}."""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""
"""KEYS: lease. ARGV: replica id, channel, message. Deletes and announces it if it is ours."""

Acquired = float | bytes | None
"""What :meth:`PollLeases.acquire` found: None when granted, the seconds until a live
holder's lease can lapse, or the job's stored result."""


class PollLeases:
    """This replica's side of the lease protocol: its grants, whom it follows, its heartbeat.

    ``client`` is the store's command client; ``lease_key`` and ``result_key`` name a job's
    keys; ``announce_release(key)`` is the channel message that says a lease was released.
    Errors of the ``redis`` package propagate from :meth:`acquire`; the store maps them.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        replica: str,
        channel: str,
        liveness_ttl: float,
        lease_key: Callable[[JobKey], str],
        result_key: Callable[[JobKey], str],
        announce_release: Callable[[JobKey], str],
    ) -> None:
        self._acquire_script = client.register_script(_ACQUIRE)
        self._beat_script = client.register_script(_BEAT)
        self._release_script = client.register_script(_RELEASE)
        self._replica = replica
        self._channel = channel
        self._liveness_prefix = f"{prefix}replica:"
        self._liveness_key = f"{prefix}replica:{replica}"
        self._liveness_ms = max(1, round(liveness_ttl * 1000))
        self._beat_every = liveness_ttl / 3
        self._lease_key = lease_key
        self._result_key = result_key
        self._announce_release = announce_release
        self._granted: dict[JobKey, float] = {}
        """Leases held, with the loop time after which to renew them."""
        self._following: dict[str, set[JobKey]] = {}
        self._holders: dict[JobKey, str] = {}
        self._listeners: tuple[Callable[[list[JobKey]], None], ...] = ()
        self._beater: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()

    def on_lapsed(self, callback: Callable[[list[JobKey]], None]) -> Callable[[], None]:
        """Call ``callback(keys)`` when leases followed here lapse early; returns the remover."""
        self._listeners = (*self._listeners, callback)

        def remove() -> None:
            self._listeners = tuple(c for c in self._listeners if c is not callback)

        return remove

    async def acquire(self, key: JobKey, seconds: float) -> Acquired:
        """Take, confirm or renew this replica's lease on ``key`` (see :data:`Acquired`)."""
        loop = asyncio.get_running_loop()
        renew_after = self._granted.get(key)
        if renew_after is not None and loop.time() < renew_after:
            return None
        answer = await self._acquire_script(
            keys=[self._lease_key(key), self._result_key(key), self._liveness_key],
            args=[
                self._replica,
                max(1, round(seconds * 1000)),
                self._liveness_ms,
                self._liveness_prefix,
            ],
        )
        if isinstance(answer, bytes):
            self.forget(key)
            return answer
        if isinstance(answer, list):
            holder = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
            self._granted.pop(key, None)
            self._follow(key, holder)
            self._beat_soon()
            return max(int(answer[1]), 0) / 1000 or seconds
        self._unfollow(key)
        self._granted[key] = loop.time() + seconds / 2
        self._beat_soon()
        return None

    def release(self, key: JobKey) -> None:
        """This replica stops polling ``key`` unresolved: give its lease to the followers."""
        self._unfollow(key)
        if self._granted.pop(key, None) is not None:
            task = asyncio.get_running_loop().create_task(self._release(key))
            self._chores.add(task)
            task.add_done_callback(self._chores.discard)

    def forget(self, key: JobKey) -> None:
        """``key`` has a result: nothing about its lease matters any more (nothing is sent)."""
        self._granted.pop(key, None)
        self._unfollow(key)

    def released_elsewhere(self, key: JobKey) -> None:
        """Another replica announced it released ``key``: look again at once if we follow it."""
        if key in self._holders:
            self._unfollow(key)
            self._tell([key])

    async def aclose(self) -> None:
        """Stop the heartbeat and any release under way (their leases lapse as a crash's)."""
        tasks = [*self._chores, *([self._beater] if self._beater else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._beater = None

    # --- internals ---------------------------------------------------------------------------
    def _follow(self, key: JobKey, holder: str) -> None:
        previous = self._holders.get(key)
        if previous == holder:
            return
        if previous is not None:
            self._unfollow(key)
        self._holders[key] = holder
        self._following.setdefault(holder, set()).add(key)

    def _unfollow(self, key: JobKey) -> None:
        holder = self._holders.pop(key, None)
        if holder is not None:
            keys = self._following[holder]
            keys.discard(key)
            if not keys:
                del self._following[holder]

    def _tell(self, keys: list[JobKey]) -> None:
        for listener in self._listeners:
            try:
                listener(keys)
            except Exception:
                log.exception("a lease listener failed")

    async def _release(self, key: JobKey) -> None:
        try:
            await self._release_script(
                keys=[self._lease_key(key)],
                args=[self._replica, self._channel, self._announce_release(key)],
            )
        except Exception as exc:  # the lease then lapses after its lifetime: slower, not lost
            log.debug("releasing the lease of %s job %s failed: %s", *key, exc)

    def _beat_soon(self) -> None:
        if self._beater is None:
            self._beater = asyncio.get_running_loop().create_task(
                self._beat(), name=f"fastwait-redis-liveness-{self._replica}"
            )

    async def _beat(self) -> None:
        """Refresh this replica's liveness and check its holders', while either matters."""
        try:
            while self._granted or self._following:
                await self._beat_once()
                await asyncio.sleep(self._beat_every)
        finally:
            self._beater = None

    async def _beat_once(self) -> None:
        holders = list(self._following)
        try:
            alive, dead = await self._beat_script(
                keys=[self._liveness_key],
                args=[self._liveness_ms, self._liveness_prefix, *holders],
            )
        except Exception as exc:  # Redis unreachable: followers wait, the listener reconnects
            log.debug("the liveness heartbeat failed: %s", exc)
            return
        if not alive and self._granted:
            # Others may have found this replica dead and taken its leases: ask again.
            self._granted.clear()
        lapsed: list[JobKey] = []
        for name in dead:
            holder = name.decode() if isinstance(name, bytes) else str(name)
            for key in self._following.pop(holder, ()):
                del self._holders[key]
                lapsed.append(key)
        if lapsed:
            self._tell(lapsed)
