"""Streaming a job's output from the API into a folder, whole or not at all.

The client decides *which* job and *where*; this module does the transfer: the provider's
download request, the file name (the status' ``output.fileName``, else Content-Disposition,
reduced to one safe component, with the job id appended when another file has it), the bytes
through an :class:`AtomicFile` (sha1-checked where the API publishes one), and the unpacking of
a multi-output ZIP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastwait._models import JobStatus
from fastwait._transport import HttpTransport
from fastwait.downloads._archive import ArchiveLimits, extract_zip
from fastwait.downloads._atomic_file import AtomicFile
from fastwait.downloads._names import (
    distinct_names,
    filename_from_content_disposition,
    safe_filename,
)
from fastwait.providers import Provider

__all__ = ["is_output_archive", "save_output", "unpack_outputs"]

_CHUNK = 1 << 16


async def save_output(
    transport: HttpTransport,
    provider: Provider,
    status: JobStatus,
    directory: Path,
    *,
    overwrite: bool,
) -> Path:
    """Stream ``status``'s job output into ``directory``; return the file's path.

    A file of the same name is replaced when ``overwrite``; otherwise this output is saved as
    ``stem-JOBID.ext`` (then ``stem-JOBID-2.ext``, ...), so no output is lost or clobbered.
    """
    output = status.output
    request = provider.download_request(status.id, status)
    async with transport.open(request) as response:
        suggested = (output.file_name if output else None) or filename_from_content_disposition(
            response.headers.get("Content-Disposition")
        )
        name = safe_filename(suggested, safe_filename(f"{status.id}.out", "output"))
        with AtomicFile(
            directory / name,
            overwrite=overwrite,
            alternatives=() if overwrite else distinct_names(name, status.id),
        ) as file:
            async for chunk in response.content.iter_chunked(_CHUNK):
                file.write(chunk)
            return file.commit(expected_sha1=output.sha1 if output else None)


def is_output_archive(status: JobStatus) -> bool:
    """True when the job's output is a ZIP bundling several files (tools.fast multi-output)."""
    output = status.output
    return output is not None and (
        output.content_type == "application/zip" and (output.file_count or 0) > 1
    )


async def unpack_outputs(
    archive: Path,
    directory: Path,
    *,
    job_id: str,
    overwrite: bool,
    limits: ArchiveLimits | None = None,
) -> list[Path]:
    """Unpack ``archive`` into ``directory`` off the event loop, then remove it.

    Unless a member took its place: a member named like the archive replaces it when
    ``overwrite`` (the archive is open, its bytes still readable), and is then what the path
    holds, so it stays.
    """
    saved: list[Path] = []
    try:
        saved = await asyncio.to_thread(
            extract_zip, archive, directory, tag=job_id, overwrite=overwrite, limits=limits
        )
        return saved
    finally:
        if archive not in saved:
            archive.unlink(missing_ok=True)
