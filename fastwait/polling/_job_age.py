"""What a job id says about the job: a GUIDv7 (RFC 9562 UUIDv7) carries its creation time."""

from __future__ import annotations

from fastwait.providers._validation import uuid7_hex

__all__ = ["uuid7_created_at"]


def uuid7_created_at(job_id: str) -> float | None:
    """Unix time (seconds) at which a UUIDv7 id was made, or None for any other id.

    Accepts the 32-hex form tools.fast uses (``019c56457340753ba9441d7b4e6516a0``) and the
    dashed form (``0195e2a0-1234-7000-8000-000000000001``). The first 48 bits are Unix
    milliseconds.
    """
    digits = uuid7_hex(job_id)
    return None if digits is None else int(digits[:12], 16) / 1000.0
