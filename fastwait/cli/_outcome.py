"""How each job ended for the command line, and the exit status a batch of them makes.

=====  ================================================================================
 code  meaning
=====  ================================================================================
   0   every job succeeded (and, with ``--download``, its output was saved)
   1   some job failed, was canceled, ended in an API error (404, 401, ...) or its
       download failed
   2   bad usage or configuration: nothing was awaited
   3   some job timed out (``--timeout``) and none failed; the others succeeded
 130   interrupted (Ctrl-C)
 143   terminated (SIGTERM): the same clean-up as Ctrl-C
 141   standard output was closed early (``fastwait wait --jsonl | head -1``)
=====  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from fastwait._client import Client, JobResult
from fastwait.exceptions import FastwaitError, WaitTimeout

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "EXIT_JOBS_FAILED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_TIMED_OUT",
    "EXIT_USAGE",
    "JobReport",
    "download_report",
    "exit_status",
]

EXIT_OK = 0
EXIT_JOBS_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMED_OUT = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
EXIT_TERMINATED = 143


@attrs.frozen
class JobReport:
    """One job's end as the CLI reports it: the wait's result, then the download if asked."""

    result: JobResult
    saved: tuple[Path, ...] = ()
    download_error: FastwaitError | None = None

    @property
    def succeeded(self) -> bool:
        return self.result.succeeded and self.download_error is None

    @property
    def timed_out(self) -> bool:
        return isinstance(self.result.error, WaitTimeout)

    @property
    def state(self) -> str:
        """The terminal state's name, or ``TIMEOUT``/``ERROR`` when no terminal state was seen."""
        if self.result.status is not None:
            return self.result.status.state.name
        return "TIMEOUT" if self.timed_out else "ERROR"

    @property
    def reason(self) -> str:
        """Why the job did not succeed, in a few words ("" when it did)."""
        if self.download_error is not None:
            return f"download failed: {self.download_error}"
        if self.result.error is not None:
            return str(self.result.error)
        status = self.result.status
        if status is not None and (status.error_code or status.error_detail):
            return ": ".join(part for part in (status.error_code, status.error_detail) if part)
        return ""


async def download_report(
    client: Client, result: JobResult, directory: Path | None, *, overwrite: bool
) -> JobReport:
    """The job's report, after saving its outputs into ``directory`` when one is given and the
    job succeeded; a failed download is the report's ``download_error``, never an exception."""
    if directory is None or not result.succeeded:
        return JobReport(result)
    try:
        saved = await client.download_outputs(
            result.job_id, directory, status=result.status, overwrite=overwrite
        )
    except FastwaitError as exc:
        return JobReport(result, download_error=exc)
    return JobReport(result, saved=tuple(saved))


def exit_status(reports: Iterable[JobReport]) -> int:
    """0 when all succeeded; 1 when any failed; 3 when some only timed out (see the table)."""
    timed_out = False
    for report in reports:
        if report.timed_out:
            timed_out = True
        elif not report.succeeded:
            return EXIT_JOBS_FAILED
    return EXIT_TIMED_OUT if timed_out else EXIT_OK
