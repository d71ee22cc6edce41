"""Results and polling shared by replicas through Redis (the ``fastwait[redis]`` extra).

``Registry(redis="redis://...")`` uses it. Every replica keeps its own futures; Redis keeps
the results and decides who polls:

* **first result wins**: one Lua script does ``SET result NX PX ttl`` and, only when that
  stored it, ``PUBLISH``-es it; a loser gets the winner back in the same round trip;
* **announcements** go over pub/sub, not streams. A result is a small value whose only
  consumers are the replicas awaiting it *right now*; a stream would keep a per-replica cursor
  and a trimmed log for nothing, because the stored key already is the durable copy. What
  pub/sub loses (a message published while a replica's subscription is down) is recovered by
  re-reading: after every (re)subscription the listener ``MGET``s the results of every key
  this replica is waiting for (keys it asked :meth:`~RedisResultStore.get` for that had no
  result yet), so nothing published in between is missed;
* **one poller per job**: a lease per job, and a liveness key per replica, so that the jobs
  of a replica that dies move on within seconds (:mod:`._redis_leases` says how, and what it
  costs). The lease script first looks for a stored result, and delivers it instead of
  granting a lease: a job's first look is also its store lookup, so a replica never polls a
  job that is already resolved.

Keys (``prefix`` defaults to ``fastwait:``): ``{prefix}result:{provider}:{job_id}``,
``{prefix}lease:{provider}:{job_id}``, ``{prefix}replica:{replica_id}`` and the channel
``{prefix}results``. A message is one line of JSON naming the publishing replica and the key,
then the stored value; a lease release is the line alone, with ``"lease": "released"``.

When Redis is unreachable, or refuses commands for a while (a failover's read-only replica,
``OOM``, ``TRYAGAIN``, ``CLUSTERDOWN``, ``BUSY``, ``LOADING``), waiters keep waiting: ``get``
answers None (the key is re-read once the listener reconnects), while ``put_first`` and
``acquire_poll_lease`` raise :class:`~fastwait.exceptions.TransportError`, which the poller
treats as transient (and says, and hands to timed-out waiters as ``WaitTimeout.last_error``).
The listener reconnects with the ``backoff`` library's exponential delays and full jitter, and
says that it cannot once, then every 30 s.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import re
import secrets
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from fastwait._notices import RateLimitedNotice
from fastwait._retry_delays import retry_delays
from fastwait.exceptions import ConfigurationError, FastwaitError, TransportError
from fastwait.registry._codec import decode_resolution, encode_resolution
from fastwait.registry._redis_leases import PollLeases
from fastwait.registry._store import JobKey, Resolution

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisResultStore"]

log = logging.getLogger("fastwait.store.redis")

_PUT_FIRST: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4] .. ARGV[1])
  return false
end
return redis.call('GET', KEYS[1])
"""
"""KEYS: result, lease. ARGV: value, ttl ms, channel, message header. Nil when stored."""

_REREAD_CHUNK: Final = 500
_COMMAND_CONNECTIONS: Final = 8
_PING_EVERY: Final = 5.0
_UNREADABLE_REMEMBERED: Final = 10_000
"""Keys whose unreadable stored value was said on the log (each is said once)."""
"""Seconds of silence after which the listener pings, and waits as long again for an answer."""


def _import_redis() -> Any:
    try:
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
        import redis.exceptions
    except ImportError:
        raise ConfigurationError(
            "Registry(redis=...) needs the redis package: pip install 'fastwait[redis]'"
        ) from None
    return redis


def _redacted(url: str) -> str:
    """``url`` without its password, for messages and reprs."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return "<unparseable url>"


def _checked_url(url: str) -> str:
    """``url`` once its database is a number: redis-py reads ``/abc`` as database 0."""
    try:
        parts = urllib.parse.urlsplit(url)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"not a usable Redis URL: {exc}") from None
    database = parts.path.strip("/")
    if parts.scheme in ("redis", "rediss") and database and not re.fullmatch(r"[0-9]+", database):
        raise ConfigurationError(
            f"the database in Redis URL {_redacted(url)} must be a number, not {database!r}"
        )
    return url


_PASSING_ERRORS: Final = (
    "ReadOnlyError",
    "OutOfMemoryError",
    "TryAgainError",
    "ClusterDownError",
    "BusyLoadingError",
)
"""redis-py's exceptions for refusals that pass without anyone's help (looked up by name:
older redis-py versions lack some)."""
_PASSING_CODES: Final = (
    "READONLY",
    "OOM",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
    "LOADING",
    "BUSY",
    "NOREPLICAS",
    "MISCONF",
)
"""The same refusals by the error code that starts the server's answer, for those redis-py
raises as a plain ``ResponseError``."""


def _is_passing(errors: Any, exc: Exception) -> bool:
    """Whether ``exc`` is a refusal that a failover, a freed memory or a finished script ends."""
    passing = tuple(getattr(errors, name) for name in _PASSING_ERRORS if hasattr(errors, name))
    if isinstance(exc, passing):
        return True
    code = str(exc).split(" ", 1)[0]
    return isinstance(exc, errors.ResponseError) and code in _PASSING_CODES


class RedisResultStore:
    """Results, announcements and poll leases of replicas sharing the Redis at ``url``.

    Implements :class:`~fastwait.ResultStore` and ``PollLease``. Results live ``ttl`` seconds.
    ``prefix`` namespaces every key and the channel. ``reconnect_max_delay`` bounds the
    listener's backoff between reconnection attempts. ``liveness_ttl`` is how long the leases
    of a replica that stopped (died) hold its jobs: the others take over within 4/3 of it.
    ``redis_options`` go to ``redis.asyncio.Redis.from_url`` (timeouts, TLS files,
    ``connection_class``...).

    Constructing it opens nothing and needs no event loop; the first call connects. Raises
    :class:`ConfigurationError` when the redis package is missing or ``url`` is not a Redis
    URL (its database, if given, must be a number). Use it from one event loop and
    :meth:`aclose` it (it does not release leases: they lapse, exactly as a crashed replica's
    would).
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 600.0,
        prefix: str = "fastwait:",
        reconnect_max_delay: float = 5.0,
        max_awaited: int = 100_000,
        liveness_ttl: float = 3.0,
        **redis_options: Any,
    ) -> None:
        if not ttl > 0 or not math.isfinite(ttl):
            raise ConfigurationError("result ttl must be a positive number of seconds")
        if not liveness_ttl >= 0.01 or not math.isfinite(liveness_ttl):
            raise ConfigurationError("liveness_ttl must be a number of seconds of at least 0.01")
        if not reconnect_max_delay > 0:
            raise ConfigurationError("reconnect_max_delay must be positive")
        if max_awaited < 1:
            raise ConfigurationError("max_awaited must be at least 1")
        lib = _import_redis()
        self._redis: Any = lib
        self._url = _checked_url(url)
        self._replica = secrets.token_hex(8)
        self._ttl_ms = max(1, round(ttl * 1000))
        self._prefix = prefix
        self._channel = f"{prefix}results"
        self._reconnect_max_delay = reconnect_max_delay
        self._max_awaited = max_awaited
        retry = lib.asyncio.retry.Retry
        named = {"client_name": f"fastwait-{self._replica}"}
        try:
            # Commands retry a dropped connection twice, quickly; the poller backs off beyond.
            # A few connections, waited for when busy: a burst of first looks must not open
            # one connection (and its five set-up commands) per look in flight.
            self._client: redis.asyncio.Redis = lib.asyncio.Redis.from_pool(
                lib.asyncio.BlockingConnectionPool.from_url(
                    url,
                    **{
                        **named,
                        "retry": retry(
                            lib.backoff.ExponentialWithJitterBackoff(base=0.02, cap=0.2), 2
                        ),
                        "max_connections": _COMMAND_CONNECTIONS,
                        "timeout": None,
                        **redis_options,
                    },
                )
            )
            # The listener must see every disconnection (to re-read what it may have missed),
            # so its client never reconnects behind its back, whatever the options say.
            self._listener_client: redis.asyncio.Redis = lib.asyncio.Redis.from_url(
                url, **{**named, **redis_options, "retry": retry(lib.backoff.NoBackoff(), 0)}
            )
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"not a usable Redis URL or option ({_redacted(url)}): {exc}"
            ) from None
        self._put_script = self._client.register_script(_PUT_FIRST)
        self._leases = PollLeases(
            self._client,
            prefix=prefix,
            replica=self._replica,
            channel=self._channel,
            liveness_ttl=liveness_ttl,
            lease_key=self._lease_key,
            result_key=self._result_key,
            announce_release=self._release_message,
        )
        self._deliver: Callable[[JobKey, Resolution], None] | None = None
        self._awaited: collections.OrderedDict[JobKey, None] = collections.OrderedDict()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._unreachable = RateLimitedNotice(log)
        self._malformed = RateLimitedNotice(log)
        self._unreadable: collections.OrderedDict[JobKey, None] = collections.OrderedDict()
        """Keys whose unreadable value was already said on the log."""
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisResultStore({_redacted(self._url)!r}, prefix={self._prefix!r})"

    @property
    def replica_id(self) -> str:
        """This store's random identity: lease holder value and announcement sender."""
        return self._replica

    @property
    def prefix(self) -> str:
        return self._prefix

    async def wait_listening(self) -> None:
        """Return once the listener is subscribed (tests and samples await this, not sleeps).

        RuntimeError if nobody called :meth:`listen` (a :class:`~fastwait.Registry` does).
        """
        if self._deliver is None:
            raise RuntimeError("nothing listens: call listen() first (Registry(store) does)")
        self._started()
        await self._subscribed.wait()

    # --- keys and errors --------------------------------------------------------------------
    def _result_key(self, key: JobKey) -> str:
        return f"{self._prefix}result:{key[0]}:{key[1]}"

    def _lease_key(self, key: JobKey) -> str:
        return f"{self._prefix}lease:{key[0]}:{key[1]}"

    def _error(self, exc: Exception) -> FastwaitError:
        """A redis-py exception as fastwait's.

        Transient: lost connections and timeouts, and the refusals that a running deployment
        cures by itself (a failover's read-only replica, a full memory, a cluster resharding
        or down, a busy script, a loading dataset): jobs keep waiting and polls back off.
        Anything else (credentials, a command the server does not know) needs a person.
        """
        errors = self._redis.exceptions
        where = _redacted(self._url)
        if isinstance(exc, errors.AuthenticationError | errors.AuthorizationError):
            return ConfigurationError(f"Redis at {where} refused the credentials: {exc}")
        if isinstance(exc, errors.ConnectionError | errors.TimeoutError | OSError):
            hint = ""
            if self._url.startswith("rediss:"):
                hint = " (the URL asks for TLS: is the server at that port speaking it?)"
            return TransportError(f"Redis at {where} is unreachable: {exc}{hint}")
        if _is_passing(errors, exc):
            return TransportError(f"Redis at {where} refuses commands for now: {exc}")
        return ConfigurationError(f"Redis at {where} refused a command: {exc}")

    def _decode(self, key: JobKey, value: bytes | str) -> Resolution | None:
        """The resolution in ``value``, or None (said once per key) when it does not decode:
        the key is then read as empty, so its job is polled."""
        try:
            return decode_resolution(value)
        except ConfigurationError as exc:
            if key not in self._unreadable:
                self._unreadable[key] = None
                if len(self._unreadable) > _UNREADABLE_REMEMBERED:
                    self._unreadable.popitem(last=False)
                log.warning("ignoring the unreadable stored result of %s job %s: %s", *key, exc)
            return None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        self._started()

    # --- ResultStore ------------------------------------------------------------------------
    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        """Store and announce ``resolution`` unless ``key`` has a result; return the one kept.

        Raises :class:`TransportError` while Redis is unreachable.
        """
        self._check_open()
        value = encode_resolution(resolution).encode()
        header = json.dumps(
            {"replica": self._replica, "provider": key[0], "job_id": key[1]},
            separators=(",", ":"),
        )
        try:
            stored = await self._put_script(
                keys=[self._result_key(key), self._lease_key(key)],
                args=[value, self._ttl_ms, self._channel, header + "\n"],
            )
        except self._redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        self._forget(key)
        self._leases.forget(key)
        if stored is None:
            return resolution
        return self._decode(key, stored) or resolution

    async def get(self, key: JobKey) -> Resolution | None:
        """The stored result of ``key``, or None (also while Redis is unreachable).

        A key without a result is remembered, so its result is re-read after the listener
        reconnects: whatever was announced while it was away still reaches this replica.
        """
        self._check_open()
        self._remember(key)
        try:
            value = await self._client.get(self._result_key(key))
        except self._redis.exceptions.RedisError as exc:
            error = self._error(exc)
            if not isinstance(error, TransportError):
                raise error from exc
            log.debug("%s; %s job %s is re-read after reconnecting", error, *key)
            return None
        if value is None:
            return None
        self._forget(key)
        self._leases.forget(key)
        return self._decode(key, value)

    def listen(self, deliver: Callable[[JobKey, Resolution], None]) -> None:
        """Call ``deliver(key, resolution)`` for each result another replica stores.

        The subscription starts now if an event loop runs, else with the first call.
        """
        self._deliver = deliver
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._started()

    async def aclose(self) -> None:
        """Stop the listener and close both connection pools. Idempotent."""
        if self._closed:
            return
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            # redis-py may swallow a cancellation that lands while it connects (the
            # redis/redis-py#2551 family), so cancel until the task has really ended.
            while not listener.done():
                listener.cancel()
                await asyncio.wait([listener], timeout=0.1)
            if not listener.cancelled() and listener.exception() is not None:
                log.error("the listener failed", exc_info=listener.exception())
        await self._leases.aclose()
        await self._listener_client.aclose()
        await self._client.aclose()

    async def __aenter__(self) -> RedisResultStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- PollLease --------------------------------------------------------------------------
    async def acquire_poll_lease(self, key: JobKey, seconds: float) -> float | None:
        """Take, confirm or renew this replica's lease on polling ``key`` for ``seconds``.

        None when this replica may poll now. Otherwise the seconds after which the lease that
        another live replica holds can first lapse (:meth:`on_lease_lapsed` tells sooner if
        it lapses early); also when ``key`` already has a stored result, which is delivered
        to the registry instead. Raises :class:`TransportError` while Redis is unreachable.
        """
        self._check_open()
        self._remember(key)
        try:
            answer = await self._leases.acquire(key, seconds)
        except self._redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        if isinstance(answer, bytes):
            self._forget(key)
            resolution = self._decode(key, answer)
            if resolution is None:
                return None  # an unreadable record: polling again repairs nothing, but answers
            self._handover(key, resolution)
            return seconds
        return answer

    def release_poll_lease(self, key: JobKey) -> None:
        """This replica stops polling ``key`` without a result: its followers look at once."""
        self._forget(key)
        if not self._closed:
            self._leases.release(key)

    def on_lease_lapsed(self, callback: Callable[[list[JobKey]], None]) -> Callable[[], None]:
        """Call ``callback(keys)`` when leases another replica held on ``keys`` lapse early
        (it died, or released them): look again now. Returns the function that removes it."""
        return self._leases.on_lapsed(callback)

    def _release_message(self, key: JobKey) -> str:
        header = {"replica": self._replica, "provider": key[0], "job_id": key[1]}
        return json.dumps({**header, "lease": "released"}, separators=(",", ":")) + "\n"

    # --- awaited keys -----------------------------------------------------------------------
    def _remember(self, key: JobKey) -> None:
        self._awaited[key] = None
        self._awaited.move_to_end(key)
        if len(self._awaited) > self._max_awaited:
            self._awaited.popitem(last=False)

    def _forget(self, key: JobKey) -> None:
        self._awaited.pop(key, None)

    # --- the listener -----------------------------------------------------------------------
    def _started(self) -> None:
        if self._listener is None and self._deliver is not None and not self._closed:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"fastwait-redis-listener-{self._replica}"
            )

    async def _listen(self) -> None:
        """Subscribe, re-read, relay announcements; on any connection failure start over."""
        errors = self._redis.exceptions
        delays: Iterator[float] | None = None
        while not self._closed:
            pubsub: Any = self._listener_client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                delays = None
                self._subscribed.set()
                self._unreachable.over("Redis at %s answers again", _redacted(self._url))
                await self._reread(self._awaited)
                await self._relay(pubsub)
            except (errors.RedisError, OSError) as exc:
                # Said once, then every 30 s: the backoff retries every few seconds.
                self._unreachable.say("%s; reconnecting", self._error(exc))
            finally:
                self._subscribed.clear()
                await pubsub.aclose()
            if delays is None:
                delays = retry_delays(first=0.05, longest=self._reconnect_max_delay)
            await asyncio.sleep(next(delays))

    async def _relay(self, pubsub: Any) -> None:
        """Deliver announcements until the connection fails (a silent one included)."""
        pinged = False
        while not self._closed:
            message = await pubsub.get_message(timeout=_PING_EVERY)
            if message is None:
                if pinged:
                    raise self._redis.exceptions.TimeoutError("no answer to PING")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                try:
                    self._announced(message["data"])
                except Exception:  # anyone who can write to Redis can publish: never die of it
                    log.exception("ignoring an announcement on %s that failed", self._channel)

    def _announced(self, data: bytes) -> None:
        header, _, value = data.partition(b"\n")
        try:
            sender = json.loads(header)
            key: JobKey = (str(sender["provider"]), str(sender["job_id"]))
            replica = sender["replica"]
        except (ValueError, KeyError, TypeError, RecursionError):
            self._malformed.say("ignoring a malformed announcement on %s", self._channel)
            return
        if replica == self._replica:
            return
        if sender.get("lease") == "released":
            self._leases.released_elsewhere(key)
            return
        resolution = self._decode(key, value)
        if resolution is not None:
            self._handover(key, resolution)

    async def _reread(self, keys: Iterable[JobKey]) -> None:
        """Deliver the stored results of ``keys`` (those announced while we did not listen)."""
        pending = list(keys)
        for start in range(0, len(pending), _REREAD_CHUNK):
            chunk = pending[start : start + _REREAD_CHUNK]
            values = await self._listener_client.mget([self._result_key(k) for k in chunk])
            for key, value in zip(chunk, values, strict=True):
                if value is not None:
                    resolution = self._decode(key, value)
                    if resolution is not None:
                        self._handover(key, resolution)

    def _handover(self, key: JobKey, resolution: Resolution) -> None:
        self._forget(key)
        self._leases.forget(key)
        if self._deliver is not None:
            try:
                self._deliver(key, resolution)
            except Exception:
                log.exception("delivering the result of %s job %s failed", *key)
