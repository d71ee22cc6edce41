"""Reading a declared API spec from TOML (or any decoded mapping) into an :class:`ApiSpec`.

A private cattrs converter does the reading, strict about JSON/TOML types and about unknown
keys (a misspelt ``stat = "status"`` is an error, not a silently missing field); every problem
is reported by ``cattrs.transform_error`` as one :class:`SpecError` naming each field by its
dotted path, and no cattrs or tomllib exception reaches the caller.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs

from fastwait.exceptions import SpecError
from fastwait.providers._spec import ApiSpec, States, Submit

__all__ = ["load_spec", "spec_from_dict"]


class _WrongType(TypeError):
    """A value of the wrong type: the message names the type wanted, never the value."""


def _exact(kind: type, wanted: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _WrongType(f"must be {wanted}")
        return value

    return structure


def _number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WrongType("must be a number")
    return float(value)


def _names(value: Any, _: Any) -> tuple[str, ...]:
    """A string or a list of strings (TOML writes ``queued = "Queued"`` or a list)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _WrongType("must be a string or a list of strings")


def _mapping(value: Any, _: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _WrongType("must be a table")
    return dict(value)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _exact(str, "a string"))
    converter.register_structure_hook(bool, _exact(bool, "true or false"))
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _names)
    converter.register_structure_hook_func(
        lambda t: t in (Mapping[str, str], Mapping[str, Mapping[str, Any]]), _mapping
    )
    return converter


_converter = _make_converter()
# Touch the classes once so a broken hook fails at import, not at a user's first spec.
_converter.get_structure_hook(States)
_converter.get_structure_hook(Submit)


def _describe(exc: BaseException, wanted: type | None) -> str:
    if typing.get_origin(wanted) is typing.Literal:
        return "must be one of " + ", ".join(map(str, typing.get_args(wanted)))
    if wanted is not None and attrs.has(wanted) and not isinstance(exc, SpecError | KeyError):
        return "must be a table"
    if isinstance(exc, SpecError):
        return f"\0{exc.field}\0{exc.reason}"
    if isinstance(exc, _WrongType):
        return str(exc)
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown key{'s' if len(exc.extra_fields) > 1 else ''} " + ", ".join(
            sorted(exc.extra_fields)
        )
    if isinstance(exc, KeyError):
        return "is required"
    return f"is not valid ({type(exc).__name__})"


def _problem(message: str) -> tuple[str, str]:
    """``(dotted field, reason)`` of one transform_error line (``reason @ $.a.b``)."""
    reason, _, where = message.rpartition(" @ ")
    field = where.removeprefix("$").lstrip(".").replace("['", ".").replace("']", "")
    if reason.startswith("\0"):
        _, inner, reason = reason.split("\0", 2)
        field = ".".join(part for part in (field, inner) if part)
    return field or "(top level)", reason


def spec_from_dict(data: Mapping[str, Any], *, source: str = "") -> ApiSpec:
    """The spec ``data`` (a decoded TOML or JSON object) declares.

    Raises :class:`SpecError` whose ``field`` is the first wrong field and whose message lists
    every problem found, each as ``field: why``; ``source`` (a file name) prefixes it.
    """
    if not isinstance(data, Mapping):
        raise SpecError(source, "a spec must be a table of settings")
    try:
        spec = _converter.structure(dict(data), ApiSpec)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc.field}" if source else exc.field, exc.reason) from None
    except Exception as exc:
        problems = [_problem(line) for line in cattrs.transform_error(exc, "$", _describe)]
        field = problems[0][0] if problems else ""
        if source:
            field = f"{source}: {field}"
        reasons = "; ".join(f"{where}: {why}" for where, why in problems[1:])
        first = problems[0][1] if problems else "is not valid"
        raise SpecError(field, first + (f" (also {reasons})" if reasons else "")) from None
    return spec


def load_spec(path: str | os.PathLike[str]) -> ApiSpec:
    """The spec in the TOML file at ``path``.

    Raises :class:`SpecError` naming the file and the field for a file that cannot be read, is
    not TOML, or declares a spec that is wrong.
    """
    name = Path(path).name
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SpecError(name, f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(name, f"is not TOML: {exc}") from None
    return spec_from_dict(data, source=name)
