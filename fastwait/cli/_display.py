"""What the CLI prints when jobs end: exactly one JSON object per job for machines
(``--jsonl``), and a summary table for people (the live view is ``_live.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import attrs

from fastwait._client import JobResult
from fastwait._models import JobStatus
from fastwait.cli._outcome import JobReport
from fastwait.exceptions import ApiError, FastwaitError, WaitTimeout

__all__ = ["jsonl_line", "summary_table"]


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
        timeout: dict[str, object] = {"code": "timeout", "detail": str(error)}
        if error.last_status is not None:
            timeout["last_state"] = error.last_status.state.name
        timeout["last_error"] = _last_error(error)
        return timeout
    return {"code": type(error).__name__, "detail": str(error)}


def _last_error(timeout: WaitTimeout) -> str | None:
    """What kept the poller from learning the job's state, if anything did."""
    error = timeout.last_error
    return None if error is None else f"{type(error).__name__}: {error}"


def _download_error_object(error: FastwaitError) -> dict[str, object]:
    found: dict[str, object] = {"code": "download_failed", "detail": str(error)}
    if isinstance(error, ApiError):
        found |= {"api_code": error.code, "http_status": error.status}
    return found


def _output_object(status: JobStatus | None) -> dict[str, object] | None:
    if status is None or status.output is None:
        return None
    return {
        key: value for key, value in attrs.asdict(status.output).items() if value is not None
    } | ({"url": _without_query(status.download_url)} if status.download_url else {})


def _without_query(url: str) -> str:
    """``url`` without its query and fragment: a pre-signed URL's query is its credential
    (``X-Amz-Signature``), and no output of fastwait carries a secret."""
    return url.split("?", 1)[0].split("#", 1)[0]


def jsonl_line(
    result: JobResult,
    *,
    saved: Sequence[Path] | None = None,
    download_error: FastwaitError | None = None,
) -> str:
    """One job's end as one line of JSON (the ``--jsonl`` contract).

    ``state`` is the terminal state's name (SUCCEEDED, FAILED, CANCELED), or ``null`` when no
    terminal state was ever seen (a timeout, a 404 or 401): ``error`` then says why. ``saved``
    lists the files written with ``--download`` (``null`` without it); a failed download puts
    ``download_failed`` in ``error``.
    """
    error = _error_object(result)
    if download_error is not None:
        error = _download_error_object(download_error)
    return json.dumps(
        {
            "provider": result.provider,
            "id": result.job_id,
            "state": result.status.state.name if result.status is not None else None,
            "source": result.source,
            "polls": result.polls,
            "elapsed_s": round(result.elapsed, 3),
            "output": _output_object(result.status),
            "saved": None if saved is None else [str(path) for path in saved],
            "error": error,
        },
        separators=(",", ":"),
    )


def summary_table(
    reports: Sequence[JobReport], *, every_job: bool = True, width: int | None = None
) -> str:
    """A plain-text table of every job (why it did not succeed, if it did not), then totals.

    ``every_job=False`` lists only the jobs that did not succeed (a person who watched the
    live view has seen the rest); ``width`` cuts rows to a terminal's width.
    """
    header = ("provider", "job", "state", "source", "polls", "elapsed", "note")
    listed = reports if every_job else [r for r in reports if not r.succeeded]
    rows = [
        (
            r.result.provider,
            r.result.job_id,
            r.state,
            r.result.source or "-",
            str(r.result.polls),
            f"{r.result.elapsed:.2f}s",
            r.reason[:80],
        )
        for r in listed
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = (
        [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (header, *rows)
        ]
        if rows
        else []
    )
    if width is not None:
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    succeeded = sum(r.succeeded for r in reports)
    polls = sum(r.result.polls for r in reports)
    per_job = polls / len(reports) if reports else math.nan
    counts = [f"{succeeded}/{len(reports)} succeeded"]
    timed_out = sum(r.timed_out for r in reports)
    downloads = sum(r.download_error is not None for r in reports)
    failed = len(reports) - succeeded - timed_out - downloads
    counts += [f"{failed} failed"] if failed else []
    counts += [f"{timed_out} timed out"] if timed_out else []
    counts += [f"{downloads} download failed"] if downloads else []
    lines.append(f"{', '.join(counts)}; {polls} polls ({per_job:.2f} per job)")
    return "\n".join(lines)
