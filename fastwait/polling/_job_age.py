"""What a job id says about the job: a GUIDv7 (RFC 9562 UUIDv7) carries its creation time."""

from __future__ import annotations

__all__ = ["uuid7_created_at"]

_HEX = frozenset("0123456789abcdefABCDEF")


def uuid7_created_at(job_id: str) -> float | None:
    """Unix time (seconds) at which a UUIDv7 id was made, or None for any other id.

    Accepts the 32-hex form tools.fast uses (``019c56457340753ba9441d7b4e6516a0``) and the
    dashed form (``0195e2a0-1234-7000-8000-000000000001``). The first 48 bits are Unix
    milliseconds; the version nibble must be 7 and the variant bits ``10``.
    """
    digits = job_id.replace("-", "") if len(job_id) == 36 else job_id
    if len(digits) != 32 or not _HEX.issuperset(digits):
        return None
    if len(job_id) == 36 and [len(p) for p in job_id.split("-")] != [8, 4, 4, 4, 12]:
        return None
    if digits[12] != "7" or digits[16].lower() not in "89ab":
        return None
    return int(digits[:12], 16) / 1000.0
