"""Error answers of the APIs as exceptions, with no credential left in their text.

Each provider module reads its own error envelope and codes; this module turns ``(HTTP status,
code)`` into the exception class, reads ``Retry-After`` into the error, and strips credentials
from any text the server sent back, so the rules are written once and tested once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastwait._json import json_decoder
from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ExpiredError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    ServerError,
)
from fastwait.providers._headers import header_value, parse_retry_after

__all__ = ["api_error", "decode_json", "error_class", "redact"]

_BY_STATUS: Mapping[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: ExpiredError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def error_class(
    http_status: int, code: str | None, not_ready_codes: Collection[str] = ()
) -> type[ApiError]:
    """The exception class for an error answer.

    The status decides; the code only refines a 409 into :class:`NotReadyError` when it is one
    of the provider's ``not_ready_codes`` (a conflict that waiting cures). Statuses the APIs do
    not document fall back to :class:`ApiError`, or :class:`ServerError` for any 5xx.
    """
    if http_status == 409 and code in not_ready_codes:
        return NotReadyError
    if 500 <= http_status <= 599:
        return ServerError
    return _BY_STATUS.get(http_status, ApiError)


def api_error(
    http_status: int,
    code: str | None,
    detail: str | None,
    headers: Mapping[str, str],
    *,
    not_ready_codes: Collection[str] = (),
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> ApiError:
    """Build the error for an answer whose envelope the provider already read.

    ``secrets`` are removed from ``code`` and ``detail`` (servers do echo API keys back);
    ``now`` is the clock for an HTTP-date ``Retry-After`` (default: the current time).
    """
    secrets = tuple(secrets)
    cls = error_class(http_status, code, not_ready_codes)
    retry_after = parse_retry_after(header_value(headers, "Retry-After"), now or datetime.now(UTC))
    return cls(
        http_status,
        redact(code, secrets),
        redact(detail, secrets),
        retry_after=retry_after,
    )


def decode_json(body: bytes) -> Any:
    """The decoded body, or None when it is empty or not JSON (error bodies often are HTML)."""
    if not body.strip():
        return None
    try:
        return json_decoder().loads(body)
    except (ValueError, RecursionError):
        return None


_REDACTED = "[redacted]"


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every secret, and every run of ``_REDACTED_RUN`` (8) or more of a secret's
    consecutive characters, replaced: an API that echoes a key with a character cut off (or
    split by a space) must not put the rest of it in a message. A secret shorter than that
    run is replaced where it occurs whole."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
            if len(secret) > _REDACTED_RUN and len(text) >= _REDACTED_RUN:
                text = _redact_runs(text, secret)
    return text


_REDACTED_RUN = 8
"""The shortest run of a secret's characters that is redacted where it appears: long enough
that ordinary words rarely match a random key, short enough that a key echoed with a few
characters cut off, or cut in two, is still hidden (a non-secret prefix such as ``fast_liv``
is redacted too, which costs nothing)."""


def _redact_runs(text: str, secret: str) -> str:
    pieces = {secret[i : i + _REDACTED_RUN] for i in range(len(secret) - _REDACTED_RUN + 1)}
    hidden = [False] * len(text)
    for i in range(len(text) - _REDACTED_RUN + 1):
        if text[i : i + _REDACTED_RUN] in pieces:
            hidden[i : i + _REDACTED_RUN] = [True] * _REDACTED_RUN
    if not any(hidden):
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if not hidden[i]:
            out.append(char)
        elif i == 0 or not hidden[i - 1]:
            out.append(_REDACTED)
    return "".join(out)
