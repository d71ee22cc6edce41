"""The one cattrs converter that reads every job API's JSON into the wire models.

Why a private converter with strict primitive hooks: cattrs' defaults coerce (``str(None)`` is
``"None"``, ``int("90")`` is ``90``, a string structures into a tuple of characters), which would
turn a broken payload into a plausible-looking status. Here a value of the wrong JSON type, a
``null`` in a non-nullable field and a missing required field all fail, and :func:`structure`
reports them as one :class:`~fastwait.exceptions.BadResponseError` naming each field by its wire
path (``$.progress.percent``). Unknown fields are ignored, so an API may add fields freely.

The wire models keep snake_case attribute names; the camelCase key of each attribute is derived
once, by a hook factory built on ``make_dict_structure_fn`` and ``override(rename=...)``.

Two converters share these rules. The fast one (``detailed_validation=False``) reads every
payload first: it stops at the first problem without collecting anything. Only when it fails is
the payload read again by the detailed one, whose error names every offending field, so a
well-formed status pays nothing for the quality of the message a broken one gets.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence
from cattrs.gen import make_dict_structure_fn, override

from fastwait.exceptions import BadResponseError
from fastwait.providers._errors import redact

__all__ = ["structure", "wire_name"]

T = TypeVar("T")


def wire_name(attribute: str) -> str:
    """The JSON key of a wire-model attribute: ``input_p50_bytes`` -> ``inputP50Bytes``."""
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- strict primitives -------------------------------------------------------------------
# The hooks raise without echoing the value: payloads may carry anything, including secrets.


_RECEIVED: dict[type, str] = {
    type(None): "null",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}


class _WrongType(TypeError):
    """A JSON value of the wrong type; the message names what came, never the value itself."""

    def __init__(self, value: Any) -> None:
        super().__init__(f"got {_RECEIVED.get(type(value), 'another value')}")


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise _WrongType(value)
    return value


def _structure_int(value: Any, _: type) -> int:
    # JSON has one number type: 5.0 is an acceptable integer, 5.5 and true are not.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _WrongType(value)


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WrongType(value)
    return float(value)


def _structure_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise _WrongType(value)
    return value


def _structure_datetime(value: Any, _: type) -> datetime:
    """ISO 8601 text; a timestamp without offset is taken as UTC (the APIs speak UTC)."""
    if not isinstance(value, str):
        raise _WrongType(value)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _strict_sequence_factory(cl: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Arrays only: cattrs would otherwise accept any iterable, a string included."""
    inner = homogenous_tuple_structure_factory(cl, converter)

    def structure_array(value: Any, type_: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _WrongType(value)
        return inner(value, type_)

    return structure_array


def _is_array_type(type_: Any) -> bool:
    return typing.get_origin(type_) is tuple and is_sequence(type_)


def _is_optional(type_: Any) -> bool:
    args = typing.get_args(type_)
    return (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _optional_factory(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``X | None`` with the hook of ``X`` looked up once, not on every value as cattrs does."""
    inner = next(arg for arg in typing.get_args(type_) if arg is not type(None))
    structure_inner = converter.get_structure_hook(inner)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else structure_inner(value, inner)

    return structure_optional


def _camel_case_factory(cl: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Structure an attrs class from a JSON object whose keys are the camelCase attributes."""
    renames: dict[str, Any] = {a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cl)}
    generated = make_dict_structure_fn(cl, converter, **renames)

    def structure_object(value: Any, type_: Any) -> Any:
        # The exact-type test first: decoded JSON objects are dicts, and it skips the ABC.
        if type(value) is not dict and not isinstance(value, Mapping):
            raise _WrongType(value)
        return generated(value, type_)

    return structure_object


# --- the fast reading --------------------------------------------------------------------
# The fast converter reads a wire model with code generated for it, which checks JSON's own
# types inline instead of calling a hook per field. It only has to be right when it returns:
# whatever it is not sure of raises, and structure() then asks the detailed converter, which
# also accepts what is left to it (5.0 for an integer, a Mapping that is not a dict).


class _Unsure(Exception):
    """The fast reading declines a payload; the detailed converter decides."""


_INLINE_CHECKS: dict[Any, tuple[str, ...]] = {
    str: ("if type({v}) is not str:", "    raise _Unsure"),
    int: ("if type({v}) is not int:", "    raise _Unsure"),
    bool: ("if type({v}) is not bool:", "    raise _Unsure"),
    float: (
        "if type({v}) is not float:",
        "    if type({v}) is not int:",
        "        raise _Unsure",
        "    {v} = float({v})",
    ),
}


# Defaults passed on as they are (a factory would have to be called).
_PLAIN_DEFAULTS: frozenset[type] = frozenset(
    {type(attrs.NOTHING), type(None), str, int, float, bool}
)


def _value_lines(
    type_: Any, v: str, hook: str, namespace: dict[str, Any], converter: cattrs.Converter
) -> list[str]:
    """Lines that check (or structure) the JSON value in variable ``v`` as ``type_``."""
    if type_ in _INLINE_CHECKS:
        return [line.format(v=v) for line in _INLINE_CHECKS[type_]]
    if _is_optional(type_):
        inner = next(arg for arg in typing.get_args(type_) if arg is not type(None))
        lines = _value_lines(inner, v, hook, namespace, converter)
        return [f"if {v} is not None:", *("    " + line for line in lines)]
    namespace[hook] = converter.get_structure_hook(type_)
    namespace[f"{hook}_type"] = type_
    return [f"{v} = {hook}({v}, {hook}_type)"]


def _fast_object_factory(cl: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Structure an attrs class from a dict with camelCase keys, in one generated function."""
    fields = attrs.fields(attrs.resolve_types(cl))
    if any(
        not a.init or a.kw_only or a.alias != a.name or type(a.default) not in _PLAIN_DEFAULTS
        for a in fields
    ):
        return _camel_case_factory(cl, converter)  # attrs features the generator leaves out
    namespace: dict[str, Any] = {"_Unsure": _Unsure, "cl": cl}
    lines = ["def structure(o, _):", "    if type(o) is not dict:", "        raise _Unsure"]
    for n, a in enumerate(fields):
        v, key = f"v{n}", wire_name(a.name)
        checks = _value_lines(a.type, v, f"h{n}", namespace, converter)
        if a.default is attrs.NOTHING:
            lines += [f"    {v} = o[{key!r}]", *("    " + line for line in checks)]
        elif a.default is None and _is_optional(a.type):  # absent reads as None
            lines += [f"    {v} = o.get({key!r})", *("    " + line for line in checks)]
        else:
            namespace[f"d{n}"] = a.default
            lines += [f"    if {key!r} in o:", f"        {v} = o[{key!r}]"]
            lines += [*("        " + line for line in checks), "    else:", f"        {v} = d{n}"]
    lines.append(f"    return cl({', '.join(f'v{n}' for n in range(len(fields)))})")
    exec(compile("\n".join(lines), f"<fastwait fast structure {cl.__name__}>", "exec"), namespace)
    generated: Callable[[Any, Any], Any] = namespace["structure"]
    return generated


def _make_converter(*, detailed: bool) -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_structure_hook_factory(_is_array_type, _strict_sequence_factory)
    converter.register_structure_hook_factory(_is_optional, _optional_factory)
    converter.register_structure_hook_factory(
        attrs.has, _camel_case_factory if detailed else _fast_object_factory
    )
    return converter


_fast_converter = _make_converter(detailed=False)
_converter = _make_converter(detailed=True)
_fast_hooks: dict[type, Callable[[Any, Any], Any]] = {}
"""The fast converter's hook per wire model, looked up once (cattrs dispatches on every call)."""

# --- error messages ----------------------------------------------------------------------

_JSON_TYPE_NAMES: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    datetime: "an ISO 8601 timestamp",
}


def _describe(type_: Any) -> str:
    """Name the JSON a field expects, for a message read by someone holding the payload."""
    if type_ in _JSON_TYPE_NAMES:
        return _JSON_TYPE_NAMES[type_]
    args = typing.get_args(type_)
    if typing.get_origin(type_) in (typing.Union, types.UnionType) and type(None) in args:
        others = [a for a in args if a is not type(None)]
        return " or ".join(_describe(a) for a in others) + " or null"
    if typing.get_origin(type_) is tuple:
        return "an array"
    if attrs.has(type_) or typing.get_origin(type_) in (dict, Mapping):
        return "an object"
    return getattr(type_, "__name__", repr(type_))


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if type_ is not None and isinstance(exc, TypeError | ValueError):
        got = f", {exc}" if isinstance(exc, _WrongType) else ""
        return f"expected {_describe(type_)}{got}"
    if isinstance(exc, AttributeError):
        return "expected an object"
    return "invalid value"


_ATTRIBUTE_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")


def _wire_path(message: str) -> str:
    """Rewrite ``... @ $.metrics.input_bytes`` to the payload's own ``$.metrics.inputBytes``."""
    text, sep, path = message.rpartition(" @ ")
    if not sep:
        return message
    return f"{text} @ " + _ATTRIBUTE_SEGMENT.sub(lambda m: "." + wire_name(m.group(1)), path)


def structure(payload: Any, cls: type[T], *, source: str = "", secrets: Iterable[str] = ()) -> T:
    """Read a decoded JSON payload into the wire model ``cls``.

    Raises :class:`BadResponseError` (not transient) listing every offending field by its wire
    path when the payload does not match the model; no cattrs exception escapes. ``source``
    prefixes the message (the provider's name); ``secrets`` are removed from it.
    """
    if type(payload) is dict or isinstance(payload, Mapping):
        hook = _fast_hooks.get(cls)
        if hook is None:
            hook = _fast_hooks[cls] = _fast_converter.get_structure_hook(cls)
        try:
            result: T = hook(payload, cls)
        except Exception:
            pass  # read again below, for the message that names every offending field
        else:
            return result
    prefix = f"{source}: {cls.__name__}" if source else cls.__name__
    if not isinstance(payload, Mapping):
        raise BadResponseError(f"{prefix}: expected an object @ $")
    try:
        return _converter.structure(payload, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        problems = [_wire_path(m) for m in cattrs.transform_error(exc, "$", _format_exception)]
        message = redact(f"{prefix}: " + "; ".join(problems), secrets) or ""
        raise BadResponseError(message) from exc
