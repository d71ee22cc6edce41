"""Decoding JSON bodies: with orjson when the ``speed`` extra is installed, else the stdlib.

One contract, the standard library's: :meth:`JsonDecoder.loads` answers exactly what
``json.loads(body)`` answers (value or exception), and :meth:`JsonDecoder.loads_utf8` what
decoding the body as UTF-8 and then as JSON without ``NaN``/``Infinity`` answers. orjson is
only asked what it answers identically, and whatever it refuses (``NaN``, a byte order mark,
UTF-16, lone surrogates, numbers beyond a double, ...) is decoded again by the standard
library, whose value or error stands. It is not asked at all about a body holding an integer
of 19 digits (orjson reads integers beyond 64 bits as floats) or 256 opening brackets (the two
decoders' nesting limits differ), so those are the standard library's alone.

orjson is imported on first use, never by ``import fastwait``; ``FASTWAIT_NO_SPEEDUPS=1`` in
the environment keeps the standard library even when orjson is installed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Final, NoReturn

__all__ = ["STDLIB", "JsonDecoder", "json_decoder", "orjson_decoder", "speedups_disabled"]

_NUMBER_SHAPE: Final = bytes(
    ord("0") if byte in b"0123456789" else (ord("s") if byte in b":,[-\t\n\r " else ord(" "))
    for byte in range(256)
)
"""Maps every digit to ``0`` and every byte that may come right before a number's digits to
``s``: one pass shows whether an integer literal has 19 digits (digits in strings follow
other bytes; a string like ``"x: 1234..."`` only costs a needless trip to the stdlib)."""
_BIG_INTEGER: Final = b"0" * 19
_BIG_INTEGER_AFTER: Final = b"s" + _BIG_INTEGER
_MAX_BRACKETS: Final = 255


def _reject_constant(name: str) -> NoReturn:
    # NaN and Infinity are not JSON (RFC 8259), though Python's decoder accepts them.
    raise ValueError(f"{name} is not JSON")


_STRICT: Final = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with any keyword builds a new decoder on every call."""


def speedups_disabled() -> bool:
    """Whether ``FASTWAIT_NO_SPEEDUPS`` asks for the standard library (orjson, asyncio)."""
    return os.environ.get("FASTWAIT_NO_SPEEDUPS", "").strip() not in ("", "0")


class JsonDecoder:
    """Decodes bodies with ``fast`` (orjson's ``loads``) where it agrees with the stdlib."""

    __slots__ = ("_fast", "name")

    def __init__(self, fast: Callable[[bytes], Any] | None, name: str) -> None:
        self._fast = fast
        self.name = name
        """``"orjson"`` or ``"json"``: which decoder answers when it can."""

    def __repr__(self) -> str:
        return f"JsonDecoder({self.name})"

    def _may_answer(self, body: bytes) -> bool:
        """Whether orjson is asked at all: no integer of 19 digits, not 256 opening brackets."""
        shape = body.translate(_NUMBER_SHAPE)
        if _BIG_INTEGER_AFTER in shape or shape.startswith(_BIG_INTEGER):
            return False
        return (
            len(body) <= 2 * _MAX_BRACKETS or body.count(b"[") + body.count(b"{") <= _MAX_BRACKETS
        )

    def loads(self, body: bytes) -> Any:
        """``json.loads(body)``: the same value or the same exception."""
        fast = self._fast
        if fast is not None and self._may_answer(body):
            try:
                return fast(body)
            except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
                pass  # the standard library's answer stands, value or error
        return json.loads(body)

    def loads_utf8(self, body: bytes) -> Any:
        """``body`` as UTF-8 JSON without ``NaN``/``Infinity``.

        Raises :class:`UnicodeDecodeError` when it is not UTF-8 (catch it first: it is a
        :class:`ValueError` too), :class:`ValueError` when it is not such JSON, and
        :class:`RecursionError` when it nests deeper than Python's recursion limit allows.
        """
        fast = self._fast
        if fast is not None and self._may_answer(body):
            try:
                return fast(body)
            except (ValueError, RecursionError):
                pass  # refused by orjson: the standard library decides, value or error
        return _STRICT.decode(body.decode("utf-8"))


STDLIB: Final = JsonDecoder(None, "json")

_chosen: JsonDecoder | None = None


def orjson_decoder() -> JsonDecoder | None:
    """A decoder over orjson, or None when the ``speed`` extra is not installed."""
    try:
        import orjson
    except ImportError:
        return None
    return JsonDecoder(orjson.loads, "orjson")


def json_decoder() -> JsonDecoder:
    """This process's decoder: orjson's when installed and not disabled, chosen on first use."""
    global _chosen  # chosen once, lazily, so that importing fastwait imports no orjson
    if _chosen is None:
        fast = None if speedups_disabled() else orjson_decoder()
        _chosen = fast or STDLIB
    return _chosen
