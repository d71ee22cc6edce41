"""Output files: deterministic bytes, ZIP archives of pages, and deliberate corruption.

Outputs are never stored: the same job always yields the same bytes (a SHAKE-256 stream keyed by
provider, job id and page), so a published sha1 can be computed on demand and a download can be
repeated, while 10,000 jobs cost no memory for their files.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable

from fastwait.testing._jobs import FakeJob

__all__ = ["content_disposition", "file_bytes", "served", "zip_archive"]

_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def file_bytes(job: FakeJob, size: int, page: int = 0) -> bytes:
    """``size`` bytes that are the content of output ``page`` of ``job``, always the same."""
    return hashlib.shake_256(f"{job.provider}:{job.id}:{page}".encode()).digest(size)


def zip_archive(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A real ZIP (stored, fixed timestamps, so the bytes are reproducible) of ``files``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)
    return buffer.getvalue()


def served(job: FakeJob, data: bytes) -> bytes:
    """What a download sends: ``data``, or ``data`` with its last byte flipped once the test
    called ``corrupt_output`` (same length, different sha1, like a bad disk or proxy)."""
    if not job.corrupted or not data:
        return data
    return data[:-1] + bytes([data[-1] ^ 0xFF])


def content_disposition(file_name: str) -> str:
    """``attachment; filename="..."`` with the name as the API would send it.

    The name is deliberately not sanitized (a test may set ``../../etc/passwd``): clients must
    not trust it as a path. Only quotes and backslashes are escaped, and control characters
    dropped, so the header stays well-formed.
    """
    escaped = "".join("\\" + c if c in '"\\' else c for c in file_name if c.isprintable())
    return f'attachment; filename="{escaped}"'
