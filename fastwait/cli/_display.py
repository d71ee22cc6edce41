"""What the CLI shows people: one live status line on a terminal, a summary table at the end,
or exactly one JSON object per finished job for machines (``--jsonl``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import TextIO

import attrs

from fastwait._client import JobResult
from fastwait._models import JobStatus
from fastwait.exceptions import ApiError, FastwaitError, WaitTimeout

__all__ = ["LiveDisplay", "jsonl_line", "result_state", "summary_table"]


def result_state(result: JobResult) -> str:
    """The job's final state name, or ``TIMEOUT``/``ERROR`` when it has none."""
    if result.status is not None:
        return result.status.state.name
    return "TIMEOUT" if isinstance(result.error, WaitTimeout) else "ERROR"


def _error_object(result: JobResult) -> dict[str, object] | None:
    status = result.status
    if status is not None and (status.error_code or status.error_detail):
        return {"code": status.error_code, "detail": status.error_detail}
    error: FastwaitError | None = result.error
    if error is None:
        return None
    if isinstance(error, ApiError):
        return {"code": error.code, "detail": error.detail, "http_status": error.status}
    if isinstance(error, WaitTimeout):
        return {"code": "timeout", "detail": str(error), "last_error": _last_error(error)}
    return {"code": type(error).__name__, "detail": str(error)}


def _last_error(timeout: WaitTimeout) -> str | None:
    """What kept the poller from learning the job's state, if anything did."""
    error = timeout.last_error
    return None if error is None else f"{type(error).__name__}: {error}"


def _output_object(status: JobStatus | None) -> dict[str, object] | None:
    if status is None or status.output is None:
        return None
    return {
        key: value for key, value in attrs.asdict(status.output).items() if value is not None
    } | ({"url": status.download_url} if status.download_url else {})


def jsonl_line(result: JobResult, *, state: str | None = None) -> str:
    """One job's result as one line of JSON (the ``--jsonl`` contract).

    ``state`` is one of the five JobState names; a job that timed out or hit an API error
    before reaching a terminal state reports the last state known (QUEUED if none).
    """
    if state is None:
        if result.status is not None:
            state = result.status.state.name
        else:
            last = getattr(result.error, "last_status", None)
            state = last.state.name if isinstance(last, JobStatus) else "QUEUED"
    return json.dumps(
        {
            "provider": result.provider,
            "id": result.job_id,
            "state": state,
            "source": result.source or "poll",
            "polls": result.polls,
            "elapsed_s": round(result.elapsed, 3),
            "output": _output_object(result.status),
            "error": _error_object(result),
        },
        separators=(",", ":"),
    )


def summary_table(results: Sequence[JobResult]) -> str:
    """A plain-text table of every job, then totals."""
    header = ("provider", "job", "state", "source", "polls", "elapsed")
    rows = [
        (
            r.provider,
            r.job_id,
            result_state(r),
            r.source or "-",
            str(r.polls),
            f"{r.elapsed:.2f}s",
        )
        for r in results
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in (header, *rows)
    ]
    succeeded = sum(r.succeeded for r in results)
    polls = sum(r.polls for r in results)
    per_job = polls / len(results) if results else math.nan
    lines.append(f"{succeeded}/{len(results)} succeeded, {polls} polls ({per_job:.2f} per job)")
    return "\n".join(lines)


class LiveDisplay:
    """A single status line redrawn in place: jobs done / total and each running job's percent.

    Redraws at most every ``interval`` seconds so thousands of progress events cost little.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._done = 0
        self._failed = 0
        self._percent: dict[str, float] = {}
        self._last_draw = -math.inf
        self._width = 0

    def progress(self, status: JobStatus) -> None:
        if status.progress_percent is not None:
            self._percent[status.id] = status.progress_percent
        self._draw()

    def finished(self, result: JobResult) -> None:
        self._done += 1
        self._failed += not result.succeeded
        self._percent.pop(result.job_id, None)
        self._draw(force=self._done == self.total)

    def _draw(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        running = sorted(self._percent.items(), key=lambda item: -item[1])[:4]
        detail = " ".join(f"{job[:8]}:{percent:.0f}%" for job, percent in running)
        failed = f", {self._failed} not succeeded" if self._failed else ""
        line = f"{self._done}/{self.total} done{failed}  {detail}".rstrip()
        self._stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self._stream.flush()

    def close(self) -> None:
        """End the live line so what follows starts on its own line."""
        self._stream.write("\n")
        self._stream.flush()
