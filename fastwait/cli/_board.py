"""What the live view knows of each awaited job: its state, percent and how long it has taken.

Pure bookkeeping fed by the poller's statuses and the jobs' ends; the live view (``_live.py``)
draws it, so it is tested without a terminal. Counts, the longest id and how much of an id
tells it apart are kept as jobs and events arrive, so a redraw costs the rows shown and adding
jobs costs the jobs added, not the size of the batch.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import time
from collections.abc import Callable, Iterable, Iterator

import attrs

from fastwait._models import JobStatus
from fastwait.cli._outcome import JobReport

__all__ = ["WAITING", "BoardRow", "JobBoard", "format_elapsed"]

WAITING = "WAITING"
"""The state shown before any status of the job was seen."""

_SHORT_ID = 8
"""Fewest last characters of an id the board shows when it cannot show it whole."""


@attrs.define
class BoardRow:
    """One job on the board."""

    provider: str
    job_id: str
    state: str = WAITING
    percent: float | None = None
    ended_after: float | None = None  # seconds from the board's start, once the job ended


class JobBoard:
    """Every awaited job in the order it was added, and the counts the header shows."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self._rows: dict[tuple[str, str], BoardRow] = {}
        self._active: dict[tuple[str, str], BoardRow] = {}
        self.active_states: collections.Counter[str] = collections.Counter()
        self.ended_states: collections.Counter[str] = collections.Counter()
        self.download_failures = 0
        self.providers: list[str] = []
        self.longest_id = 0
        """Characters in the longest id on the board."""
        self._reversed_ids: list[str] = []
        """Every id on the board, reversed, sorted: the ids sharing the longest tail with an id
        are its neighbours here."""
        self._tail = _SHORT_ID
        """Last characters that tell every id on the board from every other."""

    def add(self, provider: str, job_ids: Iterable[str]) -> None:
        """Put jobs on the board (WAITING until their first status)."""
        if provider not in self.providers:
            self.providers.append(provider)
        added: list[str] = []
        for job_id in job_ids:
            key = (provider, job_id)
            if key in self._rows:
                continue
            row = BoardRow(provider, job_id)
            self._rows[key] = self._active[key] = row
            self.active_states[WAITING] += 1
            added.append(job_id)
        self._learn_ids(added)

    def _learn_ids(self, job_ids: list[str]) -> None:
        """Widen the tail that tells ids apart, and the longest id, for ``job_ids`` only.

        The longest tail two ids share is shared by two neighbours in reversed sorted order, so
        each new id is compared with its neighbours among the new ids and among the known ones.
        """
        known = self._reversed_ids
        fresh = sorted({job_id[::-1] for job_id in job_ids})
        fresh = [tail for tail in fresh if not _contains(known, tail)]
        if not fresh:
            return
        tail = self._tail
        for before, after in itertools.pairwise(fresh):
            tail = max(tail, _shared_head(before, after) + 1)
        for reversed_id in fresh:
            at = bisect.bisect_left(known, reversed_id)
            for neighbour in known[max(at - 1, 0) : at + 1]:
                tail = max(tail, _shared_head(reversed_id, neighbour) + 1)
        known += fresh
        known.sort()  # two sorted runs: merged in one pass
        self._tail = tail
        self.longest_id = max(self.longest_id, *map(len, fresh))

    def progress(self, status: JobStatus) -> None:
        """A non-terminal status seen by the poller: the job's state and percent."""
        row = self._active.get((status.provider, status.id))
        if row is None:
            return
        self._move(row, status.state.name)
        if status.progress_percent is not None:
            row.percent = status.progress_percent

    def finished(self, report: JobReport) -> None:
        """The job ended (or its wait did): freeze its row."""
        key = (report.result.provider, report.result.job_id)
        row = self._active.pop(key, None)
        if row is None:
            return
        self.active_states[row.state] -= 1
        row.state = report.state
        if report.result.succeeded and row.percent is not None:
            row.percent = 100.0
        row.ended_after = self.now()
        self.ended_states[row.state] += 1
        self.download_failures += report.download_error is not None

    def _move(self, row: BoardRow, state: str) -> None:
        if row.state != state:
            self.active_states[row.state] -= 1
            self.active_states[state] += 1
            row.state = state

    def now(self) -> float:
        """Seconds since the board started."""
        return self._clock() - self.started

    def elapsed(self, row: BoardRow) -> float:
        return row.ended_after if row.ended_after is not None else self.now()

    @property
    def total(self) -> int:
        return len(self._rows)

    @property
    def ended(self) -> int:
        return len(self._rows) - len(self._active)

    def rows(self) -> Iterator[BoardRow]:
        """Every job, in the order added."""
        return iter(self._rows.values())

    def active_rows(self) -> Iterator[BoardRow]:
        """The jobs still awaited, in the order added."""
        return iter(self._active.values())

    def short_id(self, job_id: str) -> str:
        """The shortest tail of ``job_id`` (8 characters or more) that no other id on the board
        ends with, behind an ellipsis; an id no longer than that is shown whole.

        tools.fast and compressor.app ids are GUIDv7: their first characters are a timestamp
        that a batch shares, their last ones random, so the tail is what tells jobs apart. One
        length for the whole board keeps the column aligned.
        """
        tail = self._tail
        return job_id if len(job_id) <= tail + 1 else f"…{job_id[-tail:]}"


def _contains(ordered: list[str], item: str) -> bool:
    at = bisect.bisect_left(ordered, item)
    return at < len(ordered) and ordered[at] == item


def _shared_head(a: str, b: str) -> int:
    """How many first characters ``a`` and ``b`` have in common."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


def format_elapsed(seconds: float) -> str:
    """``4.2s``, ``1m05s``, ``2h03m``: short enough for a column."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
