"""A durable result store and job journal in one SQLite file, so a restart loses nothing.

``Registry(state="fastwait.db")`` uses it. Two tables (schema version 2, ``PRAGMA
user_version``; a version 1 file is upgraded in place):

* ``jobs``: one row per awaited job (``provider``, ``job_id``, ``submitted_at``,
  ``next_poll_at``, ``last_state``, ``webhook_expected``, ``resolved_at``, ``reported_at``): the
  journal a restart resumes from. ``resolved_at`` is NULL while the job is unresolved;
  ``reported_at`` is NULL until its consumer says it passed the result on (the CLI, once the
  job's line is flushed), so a crash between storing and reporting loses no result. An
  abandoned job's row is deleted.
* ``results``: one row per terminal result (``provider``, ``job_id``, ``resolution`` as JSON,
  ``stored_at``), kept ``ttl`` seconds, like the rows of resolved jobs; the result of a
  journaled job never reported is kept until it is, or ``unreported_ttl`` seconds (a week by
  default) at most, so a run resumed long after a crash still reports it.

Why one writer thread: sqlite3 blocks, and the poller calls the journal on its hot path. Every
statement runs on a dedicated thread that owns the only connection; the event loop just puts a
command on a queue (journal writes return at once; async calls await a future). The thread
takes everything queued so far and applies it in ONE transaction, so ten thousand journal
writes cost one commit, not ten thousand. ``put_first`` returns only after the transaction that
stored the result committed (WAL, ``synchronous=FULL``): a crash right after it cannot lose the
result, and a restarted process never polls that job again.

Times in the file are wall-clock Unix seconds (they must outlive the process).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Final

from fastwait._models import JobState
from fastwait._notices import RateLimitedNotice
from fastwait.exceptions import ConfigurationError, FastwaitError, TransportError
from fastwait.registry._codec import decode_resolution, encode_resolution
from fastwait.registry._store import JobKey, Resolution, TrackedJob

__all__ = ["SQLiteResultStore"]

log = logging.getLogger("fastwait.store.sqlite")

_SCHEMA_VERSION: Final = 2
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS jobs (
    provider TEXT NOT NULL,
    job_id TEXT NOT NULL,
    submitted_at REAL,
    next_poll_at REAL,
    last_state TEXT,
    webhook_expected INTEGER NOT NULL DEFAULT 0,
    resolved_at REAL,
    reported_at REAL,
    PRIMARY KEY (provider, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_unresolved ON jobs (provider) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS jobs_resolved_at ON jobs (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS results (
    provider TEXT NOT NULL,
    job_id TEXT NOT NULL,
    resolution TEXT NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (provider, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_stored_at ON results (stored_at);
"""
_UPGRADE_FROM_1: Final = (
    "ALTER TABLE jobs ADD COLUMN reported_at REAL",
    # Version 1 printed a result the moment it stored it: count those as reported.
    "UPDATE jobs SET reported_at = resolved_at WHERE resolved_at IS NOT NULL",
)
_INDEXES: Final = """
CREATE INDEX IF NOT EXISTS jobs_unreported ON jobs (provider) WHERE reported_at IS NULL;
"""

_KEPT: Final = (
    "(results.stored_at >= :fresh OR (results.stored_at >= :unreported AND EXISTS ("
    "SELECT 1 FROM jobs WHERE jobs.provider = results.provider"
    " AND jobs.job_id = results.job_id AND jobs.reported_at IS NULL)))"
)
"""Whether a result row is still kept: younger than ``ttl``, or journaled, unreported and
younger than ``unreported_ttl``. Parameters: the cutoffs ``:fresh`` and ``:unreported``."""

_BATCH: Final = 2048
"""At most this many commands in one transaction, so a flood of writes still commits often."""

_Action = Callable[[sqlite3.Connection, float], Any]
_Reply = concurrent.futures.Future[Any]


class _Command:
    __slots__ = ("action", "reply", "writes")

    def __init__(self, action: _Action, reply: _Reply | None, *, writes: bool = True) -> None:
        self.action = action
        self.reply = reply
        self.writes = writes


_CLOSE: Final = object()


class _Failure:
    """What a command that failed in its savepoint answers its caller."""

    __slots__ = ("error",)

    def __init__(self, error: FastwaitError) -> None:
        self.error = error


def _unexpected(exc: Exception) -> FastwaitError:
    error = ConfigurationError(f"state file write failed unexpectedly: {exc!r}")
    error.__cause__ = exc
    return error


def _answer_all(batch: list[_Command], error: FastwaitError) -> None:
    """Fail every caller of ``batch`` not answered yet (a cancelled one needs no answer)."""
    for command in batch:
        reply = command.reply
        if reply is None or reply.done():
            continue
        if reply.running() or reply.set_running_or_notify_cancel():
            reply.set_exception(error)


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class _Writer:
    """The thread that owns the connection: it holds no reference to the store, so a store
    dropped without :meth:`SQLiteResultStore.aclose` can still be collected (and end it)."""

    __slots__ = (
        "_busy_timeout",
        "_clock",
        "_evicted_at",
        "_path",
        "_queue",
        "_ttl",
        "_unreported_ttl",
        "failures",
    )

    def __init__(
        self,
        path: str,
        ttl: float,
        unreported_ttl: float,
        busy_timeout: float,
        clock: Callable[[], float],
        commands: queue.SimpleQueue[_Command | object],
    ) -> None:
        self._path = path
        self._ttl = ttl
        self._unreported_ttl = unreported_ttl
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._queue = commands
        self._evicted_at = float("-inf")
        self.failures = RateLimitedNotice(log)
        """Said once, then now and then, while writes fail (disk full: every batch fails).
        The registry says through it too that it keeps results in memory (one trouble)."""

    def _open(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open state file {self._path}: {exc}") from None
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise ConfigurationError(
                    f"state file {self._path} was written by a newer fastwait (schema {version})"
                )
            if version:
                self._check_intact(connection)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            self._upgrade(connection)
            connection.executescript(_INDEXES)
        except sqlite3.Error as exc:
            connection.close()
            raise ConfigurationError(
                f"cannot use {self._path} as a fastwait state file: {exc}"
            ) from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _upgrade(self, connection: sqlite3.Connection) -> None:
        """Bring the file to :data:`_SCHEMA_VERSION` in one transaction (re-read inside it, in
        case another process upgraded it meanwhile)."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version == 1:
                for statement in _UPGRADE_FROM_1:
                    connection.execute(statement)
            if version < _SCHEMA_VERSION:
                connection.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.rollback()
            raise

    def _check_intact(self, connection: sqlite3.Connection) -> None:
        """Refuse a damaged file at once, rather than failing the jobs whose rows it lost.

        ``quick_check`` reads every page once (tens of milliseconds for a large state file).
        """
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            found = "; ".join(" ".join(problem.split()) for problem in problems)
            raise ConfigurationError(
                f"state file {self._path} is damaged ({found[:200]}): move it aside"
                " to start afresh, or salvage it with the sqlite3 shell's .recover"
            )

    def run(self) -> None:
        """Apply queued commands, a batch per transaction, until the close marker."""
        try:
            connection = self._open()
        except ConfigurationError as error:
            self._refuse_all(error)
            return
        try:
            while True:
                batch: list[_Command] = []
                closing = False
                item = self._queue.get()
                while True:
                    if item is _CLOSE:
                        closing = True
                    else:
                        assert isinstance(item, _Command)
                        batch.append(item)
                    if len(batch) >= _BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._apply(connection, batch)
                if closing:
                    return
        finally:
            connection.close()

    def _refuse_all(self, error: FastwaitError) -> None:
        """Fail every request with ``error`` until closed (the file could not be opened)."""
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                return
            assert isinstance(item, _Command)
            reply = item.reply
            if reply is not None and reply.set_running_or_notify_cancel():
                reply.set_exception(error)

    def _apply(self, connection: sqlite3.Connection, batch: list[_Command]) -> None:
        """Run ``batch`` in one transaction; answer the callers only after it committed.

        Each command runs in a savepoint of its own: one that fails (a damaged page, a value
        the file refuses) is undone and fails its own caller only. When the transaction as a
        whole fails (disk full at COMMIT, SQLite rolled it back), every caller of the batch gets
        the error. Either way every caller gets an answer.
        """
        now = self._clock()
        answers: list[tuple[_Reply, Any]] = []
        failed = False
        try:
            connection.execute("BEGIN IMMEDIATE")
            if now - self._evicted_at > min(self._ttl, 60.0):
                # First, so that no command of the batch sees a row past its keeping.
                self._evicted_at = now
                self._run(connection, self._evict, now)
            for command in batch:
                reply = command.reply
                if reply is not None and not reply.set_running_or_notify_cancel():
                    continue  # the caller was cancelled before we got to it
                outcome = self._run(connection, command.action, now)
                failed = failed or isinstance(outcome, _Failure)
                if reply is not None:
                    answers.append((reply, outcome))
            connection.execute("COMMIT")
        except Exception as exc:  # the thread must outlive any failure, or callers hang
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.rollback()
            error = self._error(exc) if isinstance(exc, sqlite3.Error) else _unexpected(exc)
            self.failures.say(
                "state file %s cannot be written (%s; %d queued commands failed): what this"
                " process learns is kept in memory only, where a restart will not find it",
                self._path,
                exc,
                len(batch),
            )
            self._answer_reads(connection, batch, now)
            _answer_all(batch, error)
            return
        for reply, outcome in answers:
            if isinstance(outcome, _Failure):
                reply.set_exception(outcome.error)
            else:
                reply.set_result(outcome)
        if not failed and any(command.writes for command in batch):
            self.failures.over("state file %s is written again", self._path)

    def _answer_reads(
        self, connection: sqlite3.Connection, batch: list[_Command], now: float
    ) -> None:
        """Answer the reads of a batch whose writes failed from what the file holds.

        A full disk must not fail a caller that only asked what is stored.
        """
        for command in batch:
            reply = command.reply
            if command.writes or reply is None or reply.done():
                continue
            if not (reply.running() or reply.set_running_or_notify_cancel()):
                continue
            try:
                reply.set_result(command.action(connection, now))
            except sqlite3.Error as exc:
                reply.set_exception(self._error(exc))
            except Exception as exc:
                reply.set_exception(_unexpected(exc))

    def _run(self, connection: sqlite3.Connection, action: _Action, now: float) -> Any:
        """``action``'s value, or a :class:`_Failure` once its savepoint was rolled back.

        Raises when the transaction itself is gone (SQLite rolls back on disk full or I/O
        errors), so that the caller fails the whole batch.
        """
        connection.execute("SAVEPOINT command")
        try:
            value = action(connection, now)
        except Exception as exc:
            if not connection.in_transaction:
                raise
            connection.execute("ROLLBACK TO command")
            connection.execute("RELEASE command")
            self.failures.say("state file %s: a command failed: %s", self._path, exc)
            if isinstance(exc, sqlite3.Error):
                return _Failure(self._error(exc))
            return _Failure(_unexpected(exc))
        connection.execute("RELEASE command")
        return value

    def _error(self, exc: sqlite3.Error) -> FastwaitError:
        """``exc`` as fastwait's error: busy is transient, anything else needs a person."""
        if _is_busy(exc):
            error: FastwaitError = TransportError(f"state file {self._path} is busy: {exc}")
        else:
            error = ConfigurationError(f"state file {self._path} cannot be written: {exc}")
        error.__cause__ = exc
        return error

    def _evict(self, connection: sqlite3.Connection, now: float) -> None:
        cutoffs = {"fresh": now - self._ttl, "unreported": now - self._unreported_ttl}
        connection.execute(f"DELETE FROM results WHERE stored_at < :fresh AND NOT {_KEPT}", cutoffs)
        connection.execute(
            "DELETE FROM jobs WHERE resolved_at < :fresh"
            " AND (reported_at IS NOT NULL OR resolved_at < :unreported)",
            cutoffs,
        )


class SQLiteResultStore:
    """Terminal results and the journal of awaited jobs, in the SQLite file at ``path``.

    Implements :class:`~fastwait.ResultStore` and ``JobJournal``. Results are kept ``ttl``
    seconds (evicted lazily), except that the result of a journaled job nobody marked reported
    (:meth:`job_reported`) is kept until it is, at most ``unreported_ttl`` seconds (a week; never
    less than ``ttl``): at-least-once output survives a restart long after a crash. A program
    that never marks results reported keeps each for ``unreported_ttl``; give it
    ``unreported_ttl=ttl`` to keep them no longer.

    Constructing it does no I/O; the file is opened (and created) by the first call, which
    raises :class:`ConfigurationError` when ``path`` is not a usable SQLite file (a directory,
    unwritable, not a database, written by a newer fastwait). Later storage failures raise
    :class:`TransportError` when the file is locked by another process past ``busy_timeout``
    seconds (transient) and :class:`ConfigurationError` otherwise (disk full, I/O error). Use
    it from one event loop; :meth:`aclose` flushes and closes it. Journal calls after
    :meth:`aclose` are ignored; other calls raise ``RuntimeError``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float = 600.0,
        unreported_ttl: float = 7 * 24 * 3600.0,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ConfigurationError(f"state must be a file path, not {path!r}")
        if not ttl > 0:
            raise ConfigurationError("result ttl must be positive")
        if not unreported_ttl > 0:
            raise ConfigurationError("unreported_ttl must be positive")
        if not busy_timeout >= 0:
            raise ConfigurationError("busy_timeout must be >= 0")
        self._path = os.fspath(path)
        self._ttl = float(ttl)
        self._queue: queue.SimpleQueue[_Command | object] = queue.SimpleQueue()
        self._unreported_ttl = max(float(unreported_ttl), self._ttl)
        self._writer = _Writer(
            self._path, self._ttl, self._unreported_ttl, float(busy_timeout), clock, self._queue
        )
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteResultStore({self._path!r})"

    @property
    def _failure_notice(self) -> RateLimitedNotice:
        """How this store says, once and then now and then, that its file cannot be written.

        The :class:`~fastwait.Registry` on this store says through it that results are kept
        in memory only: one trouble (a full disk) is said once, not by each of them.
        """
        return self._writer.failures

    # --- lifecycle --------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._writer.run,
                name=f"fastwait-sqlite-{os.path.basename(self._path)}",
                daemon=True,  # a process that never closes the store must still be able to exit
            )
            self._thread.start()

    async def aclose(self) -> None:
        """Apply everything queued, commit, close the file and end the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is None:
            return
        self._queue.put(_CLOSE)
        await asyncio.to_thread(thread.join)

    async def __aenter__(self) -> SQLiteResultStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_thread", None) is not None and not self._closed:
            self._closed = True
            self._queue.put(_CLOSE)  # the thread commits what is queued and ends
            _warn(f"unclosed {self!r}: call aclose()", ResourceWarning, source=self)

    # --- calls from the event loop ------------------------------------------------------------
    def _enqueue(self, action: _Action) -> None:
        if self._closed:
            return
        self._start()
        self._queue.put(_Command(action, None))

    async def _call(self, action: _Action, *, writes: bool = True) -> Any:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        self._start()
        reply: _Reply = concurrent.futures.Future()
        self._queue.put(_Command(action, reply, writes=writes))
        return await asyncio.wrap_future(reply)

    # --- ResultStore ------------------------------------------------------------------------
    async def put_first(self, key: JobKey, resolution: Resolution) -> Resolution:
        """Store ``resolution`` unless ``key`` has a result; return the one stored.

        Also marks the job resolved in the journal; both are committed before this returns.
        """
        encoded = encode_resolution(resolution)
        provider, job_id = key

        def put(connection: sqlite3.Connection, now: float) -> Resolution:
            connection.execute(
                "DELETE FROM results WHERE provider = :provider AND job_id = :job_id"
                f" AND NOT {_KEPT}",
                {"provider": provider, "job_id": job_id, **self._cutoffs(now)},
            )
            inserted = connection.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)",
                (provider, job_id, encoded, now),
            ).rowcount
            connection.execute(
                "UPDATE jobs SET resolved_at = ? WHERE provider = ? AND job_id = ?"
                " AND resolved_at IS NULL",
                (now, provider, job_id),
            )
            if inserted:
                return resolution
            (stored,) = connection.execute(
                "SELECT resolution FROM results WHERE provider = ? AND job_id = ?",
                (provider, job_id),
            ).fetchone()
            try:
                return decode_resolution(stored)
            except ConfigurationError as exc:
                log.warning("replacing the unreadable stored result of %s job %s: %s", *key, exc)
                connection.execute(
                    "UPDATE results SET resolution = ?, stored_at = ?"
                    " WHERE provider = ? AND job_id = ?",
                    (encoded, now, provider, job_id),
                )
                return resolution

        result: Resolution = await self._call(put)
        return result

    async def get(self, key: JobKey) -> Resolution | None:
        """The stored result of ``key`` while it is kept (see the class docstring), else None."""
        provider, job_id = key

        def read(connection: sqlite3.Connection, now: float) -> str | None:
            row = connection.execute(
                f"SELECT resolution FROM results WHERE provider = :provider AND job_id = :job_id"
                f" AND {_KEPT}",
                {"provider": provider, "job_id": job_id, **self._cutoffs(now)},
            ).fetchone()
            return None if row is None else str(row[0])

        stored = await self._call(read, writes=False)
        if stored is None:
            return None
        try:
            return decode_resolution(stored)
        except ConfigurationError as exc:
            log.warning("ignoring the unreadable stored result of %s job %s: %s", *key, exc)
            return None

    def listen(self, deliver: Callable[[JobKey, Resolution], None]) -> None:
        """Nothing is announced: one process at a time owns a state file."""

    def _cutoffs(self, now: float) -> dict[str, float]:
        """The parameters of :data:`_KEPT` at ``now``."""
        return {"fresh": now - self._ttl, "unreported": now - self._unreported_ttl}

    # --- JobJournal -------------------------------------------------------------------------
    def job_tracked(
        self, key: JobKey, *, submitted_at: float | None, webhook_expected: bool
    ) -> None:
        """Queue: ``key`` is awaited (a job already journaled keeps its first submission time)."""
        provider, job_id = key

        def track(connection: sqlite3.Connection, now: float) -> None:
            connection.execute(
                "INSERT INTO jobs (provider, job_id, submitted_at, webhook_expected)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (provider, job_id) DO UPDATE SET"
                " submitted_at = coalesce(jobs.submitted_at, excluded.submitted_at),"
                " webhook_expected = excluded.webhook_expected",
                (provider, job_id, submitted_at, int(webhook_expected)),
            )

        self._enqueue(track)

    def job_polled(self, key: JobKey, *, state: JobState, next_poll_at: float) -> None:
        """Queue: ``key`` was seen in ``state`` and is next polled at ``next_poll_at``."""
        provider, job_id = key

        def polled(connection: sqlite3.Connection, now: float) -> None:
            connection.execute(
                "UPDATE jobs SET last_state = ?, next_poll_at = ?"
                " WHERE provider = ? AND job_id = ? AND resolved_at IS NULL",
                (state.value, next_poll_at, provider, job_id),
            )

        self._enqueue(polled)

    def job_abandoned(self, key: JobKey) -> None:
        """Queue: ``key`` failed permanently (e.g. 404); a restart must not resume it."""
        provider, job_id = key

        def abandon(connection: sqlite3.Connection, now: float) -> None:
            connection.execute(
                "DELETE FROM jobs WHERE provider = ? AND job_id = ? AND resolved_at IS NULL",
                (provider, job_id),
            )

        self._enqueue(abandon)

    def job_reported(self, key: JobKey) -> None:
        """Queue: ``key``'s result was passed on; :meth:`unreported_jobs` no longer lists it."""
        provider, job_id = key

        def reported(connection: sqlite3.Connection, now: float) -> None:
            connection.execute(
                "UPDATE jobs SET reported_at = ?"
                " WHERE provider = ? AND job_id = ? AND reported_at IS NULL",
                (now, provider, job_id),
            )

        self._enqueue(reported)

    async def flush(self) -> None:
        """Return once the journal writes queued so far are committed. A file that cannot be
        written has said so on the log already (:attr:`failures`); waiting goes on without it."""
        if self._closed:
            return
        with contextlib.suppress(FastwaitError):
            await self._call(lambda connection, now: None)

    async def unreported_jobs(self, provider: str) -> list[TrackedJob]:
        """``provider``'s journaled jobs without a result, and those whose stored result was
        never reported (``resolved``), oldest submission first.

        Everything queued before this call is applied first, so it sees its own writes.
        """

        def select(connection: sqlite3.Connection, now: float) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT job_id, submitted_at, next_poll_at, last_state, webhook_expected,"
                " resolved FROM (SELECT *, resolved_at IS NOT NULL OR EXISTS"
                "  (SELECT 1 FROM results r"
                "   WHERE r.provider = jobs.provider AND r.job_id = jobs.job_id) AS resolved"
                "  FROM jobs WHERE provider = ?)"
                " WHERE NOT resolved OR reported_at IS NULL"
                " ORDER BY submitted_at, job_id",
                (provider,),
            ).fetchall()

        rows = await self._call(select, writes=False)
        return [_tracked(provider, *row) for row in rows]

    async def unresolved_jobs(self, provider: str) -> list[TrackedJob]:
        """``provider``'s journaled jobs without a result, oldest submission first.

        Everything queued before this call is applied first, so it sees its own writes.
        """

        def select(connection: sqlite3.Connection, now: float) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT job_id, submitted_at, next_poll_at, last_state, webhook_expected"
                " FROM jobs WHERE provider = ? AND resolved_at IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM results r"
                "  WHERE r.provider = jobs.provider AND r.job_id = jobs.job_id)"
                " ORDER BY submitted_at, job_id",
                (provider,),
            ).fetchall()

        rows = await self._call(select, writes=False)
        return [_tracked(provider, *row) for row in rows]


_STATES: Final = {state.value: state for state in JobState}


def _tracked(
    provider: str,
    job_id: str,
    submitted_at: float | None,
    next_poll_at: float | None,
    last_state: str | None,
    webhook_expected: int,
    resolved: int = 0,
) -> TrackedJob:
    return TrackedJob(
        provider=provider,
        job_id=job_id,
        submitted_at=submitted_at,
        next_poll_at=next_poll_at,
        last_state=_STATES.get(last_state) if last_state is not None else None,
        webhook_expected=bool(webhook_expected),
        resolved=bool(resolved),
    )
