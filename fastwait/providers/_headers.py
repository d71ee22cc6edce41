"""Reading response headers the same way whatever mapping holds them: lookup and Retry-After."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["header_value", "parse_retry_after"]


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts as well as multidicts."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or None if there is no usable one.

    Both forms of RFC 9110 are read: delta-seconds (``"120"``; a decimal fraction is tolerated)
    and an HTTP-date, measured from ``now`` (a naive ``now`` is taken as UTC). A date already
    past gives 0.0: the server allows a retry right away. Negative numbers and anything
    unparseable give None, leaving the delay to the caller's own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
