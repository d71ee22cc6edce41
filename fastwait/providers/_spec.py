"""A job API described as data: the frozen values of a declared spec, checked as they are made.

A spec says where things are (URL paths with ``{id}``, JMESPath expressions into JSON bodies,
as botocore waiters do) and what the API's state names mean; it holds no credential, only the
name of the environment variable that has it. Every value is checked on construction, so a spec
that is wrong raises :class:`SpecError` naming the field and why before any request is made;
:class:`~fastwait.providers.DeclaredProvider` compiles a valid one into a provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs
import jmespath
from jmespath.exceptions import JMESPathError

from fastwait._models import JobState
from fastwait.exceptions import SpecError

__all__ = [
    "ApiSpec",
    "Auth",
    "Cancel",
    "ErrorBody",
    "States",
    "Status",
    "Submit",
    "check_expression",
]

_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_ENV: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_RESERVED_NAMES: Final = frozenset({"compress", "convert", "compressorapp", "media", "_fake"})


def check_expression(expression: object, field: str) -> str:
    """``expression`` if it is a JMESPath expression that compiles; SpecError naming ``field``."""
    if not isinstance(expression, str) or not expression.strip():
        raise SpecError(field, "must be a JMESPath expression (a non-empty string)")
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0].removesuffix(", for expression:")
        raise SpecError(field, f"not a valid JMESPath expression: {reason}") from None
    return expression


def _expression(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check_expression(value, attribute.name)


def _path(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A URL path relative to the base URL: starts with ``/``, ``{id}`` at most once."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise SpecError(attribute.name, "must be a path starting with '/' (the base URL is apart)")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value) or "#" in value:
        raise SpecError(attribute.name, "must not contain whitespace, control characters or '#'")
    placeholders = re.findall(r"\{[^}]*\}", value)
    if any(p != "{id}" for p in placeholders) or len(placeholders) > 1:
        raise SpecError(attribute.name, "the only placeholder allowed is one '{id}'")
    if "{id}" in value.partition("?")[2]:
        raise SpecError(attribute.name, "'{id}' must be in the path, not the query")


def _id_path(owner: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _path(owner, attribute, value)
    assert isinstance(value, str)
    if "{id}" not in value:
        raise SpecError(attribute.name, "must contain '{id}', where the job id goes")


def _header_name(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _HEADER.fullmatch(value):
        raise SpecError(attribute.name, "must be an HTTP header name")


def _one_of(*allowed: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in allowed:
            raise SpecError(attribute.name, f"must be one of {', '.join(allowed)}, not {value!r}")

    return check


def _instance(kind: type, *, optional: bool = False) -> Any:
    """A validator: the value is a ``kind`` (or None when ``optional``), else SpecError."""

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not (isinstance(value, kind) or (optional and value is None)):
            raise SpecError(attribute.name, f"must be a {kind.__name__}")

    return check


def _strings(value: object) -> tuple[str, ...]:
    """A tuple of strings from a string or an iterable of strings (what a TOML file or a
    Python caller writes); anything else is left as it is for the validator to refuse."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | frozenset | set):
        return tuple(value)
    return value  # type: ignore[return-value]


def _names_of(what: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
            raise SpecError(attribute.name, f"must be a {what} or a list of {what}s")

    return check


_state_names = _names_of("state name")


@attrs.frozen
class Auth:
    """How requests authenticate: the credential comes from the environment variable ``env``.

    ``scheme`` ``"bearer"`` sends ``{header}: Bearer <credential>``, ``"basic"`` sends HTTP
    Basic of the credential (``user:password``, or a user name alone with an empty password),
    ``"header"`` sends the credential itself (``X-Api-Key: <credential>``).
    """

    env: str = attrs.field()
    scheme: Literal["bearer", "basic", "header"] = attrs.field(
        default="bearer", validator=_one_of("bearer", "basic", "header")
    )
    header: str = attrs.field(default="Authorization", validator=_header_name)

    @env.validator
    def _check_env(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not _ENV.fullmatch(value):
            raise SpecError(
                attribute.name, "must name an environment variable (the file never holds it)"
            )


@attrs.frozen
class Status:
    """Where the status is asked for (``path``) and where each value sits in its answer.

    Each of ``id``, ``state``, ``progress``, ``output_url``, ``error_code`` and
    ``error_detail`` is a JMESPath expression into the status body (also a webhook's body).
    ``id_format`` is how the id appears there (``"operations/{id}"`` for a resource name);
    ``progress_scale`` is the value ``progress`` has when the job is done (100 for percent, 1
    for a fraction). ``metrics`` maps names to JMESPath expressions of numbers, kept in
    ``JobStatus.metrics`` (``input_bytes`` also tells the poller the job's size).
    """

    path: str = attrs.field(validator=_id_path)
    state: str = attrs.field(default="status", validator=_expression)
    id: str = attrs.field(default="id", validator=_expression)
    id_format: str = attrs.field(default="{id}")
    progress: str | None = attrs.field(default=None, validator=_expression)
    progress_scale: float = attrs.field(default=100.0)
    output_url: str | None = attrs.field(default=None, validator=_expression)
    error_code: str | None = attrs.field(default=None, validator=_expression)
    error_detail: str | None = attrs.field(default=None, validator=_expression)
    metrics: Mapping[str, str] = attrs.field(factory=dict)

    @metrics.validator
    def _check_metrics(self, attribute: attrs.Attribute[Mapping[str, str]], value: object) -> None:
        if not isinstance(value, Mapping):
            raise SpecError(attribute.name, "must map metric names to JMESPath expressions")
        for name, expression in value.items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise SpecError(f"{attribute.name}.{name}", "a metric name is like input_bytes")
            check_expression(expression, f"{attribute.name}.{name}")

    @id_format.validator
    def _check_id_format(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or value.count("{id}") != 1:
            raise SpecError(attribute.name, "must contain '{id}' exactly once")

    @progress_scale.validator
    def _check_scale(self, attribute: attrs.Attribute[float], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e300:
            raise SpecError(attribute.name, "must be a positive number (100 for percent)")


@attrs.frozen
class States:
    """Which of the API's state values mean each of fastwait's states (matched ignoring case).

    A value in no list is a :class:`~fastwait.exceptions.BadResponseError` when it is met, not
    "still running": a client that guessed would stop polling a running job or poll a finished
    one forever. ``succeeded`` and ``failed`` are required; the others may stay empty.
    """

    succeeded: tuple[str, ...] = attrs.field(converter=_strings, validator=_state_names)
    failed: tuple[str, ...] = attrs.field(converter=_strings, validator=_state_names)
    queued: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_state_names)
    running: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_state_names)
    canceled: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_state_names)

    def __attrs_post_init__(self) -> None:
        seen: dict[str, str] = {}
        for state in ("queued", "running", "succeeded", "failed", "canceled"):
            for value in getattr(self, state):
                other = seen.setdefault(value.casefold(), state)
                if other != state:
                    raise SpecError(state, f"{value!r} is already a {other} state")
        if not self.succeeded:
            raise SpecError("succeeded", "name at least one state value")
        if not self.failed:
            raise SpecError("failed", "name at least one state value")

    def mapping(self) -> Mapping[str, JobState]:
        """Each state value, casefolded, to its :class:`~fastwait.JobState`."""
        return MappingProxyType(
            {
                value.casefold(): JobState[state.upper()]
                for state in ("queued", "running", "succeeded", "failed", "canceled")
                for value in getattr(self, state)
            }
        )

    def first(self, state: JobState) -> str | None:
        """The first value declared for ``state`` (what a fake writes), or None."""
        values: tuple[str, ...] = getattr(self, state.name.lower())
        return values[0] if values else None


@attrs.frozen
class Submit:
    """How a job is submitted, and where its id is in the answer.

    ``body`` ``"multipart"`` uploads the file under ``file_field`` with ``fields`` and the
    caller's options as text fields; ``"json"`` sends ``fields`` and the options as a JSON
    object (no file: JSON APIs take the input's URL, e.g. ``input_url=...``).
    ``callback_field`` names the field that carries a webhook URL. The id is read from the
    first header of ``follow`` present in the answer (a URL matching the status path, as
    ``Operation-Location`` and ``Location`` are), else from the JMESPath ``id``; ``state``
    reads the answer's state, if it has one (otherwise the job is queued).
    """

    path: str = attrs.field(validator=_path)
    method: Literal["POST", "PUT"] = attrs.field(default="POST", validator=_one_of("POST", "PUT"))
    body: Literal["multipart", "json"] = attrs.field(
        default="multipart", validator=_one_of("multipart", "json")
    )
    file_field: str = attrs.field(default="file")
    fields: Mapping[str, str] = attrs.field(factory=dict)
    callback_field: str | None = None
    id: str | None = attrs.field(default="id", validator=_expression)
    follow: tuple[str, ...] = attrs.field(
        default=("Operation-Location", "Location"), converter=_strings
    )
    state: str | None = attrs.field(default=None, validator=_expression)

    @follow.validator
    def _check_follow(self, attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
        if not isinstance(value, tuple) or not all(
            isinstance(v, str) and _HEADER.fullmatch(v) for v in value
        ):
            raise SpecError(attribute.name, "must be a list of header names")

    @fields.validator
    def _check_fields(self, attribute: attrs.Attribute[Mapping[str, str]], value: object) -> None:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SpecError(attribute.name, "must map field names to strings")

    def __attrs_post_init__(self) -> None:
        if self.id is None and not self.follow:
            raise SpecError("id", "say where the job id is: a JMESPath 'id' or 'follow' headers")
        if not isinstance(self.file_field, str) or not self.file_field:
            raise SpecError("file_field", "must be a non-empty field name")


@attrs.frozen
class Cancel:
    """How a queued or running job is canceled: ``method`` on ``path``."""

    path: str = attrs.field(validator=_id_path)
    method: Literal["POST", "DELETE", "PUT", "PATCH"] = attrs.field(
        default="POST", validator=_one_of("POST", "DELETE", "PUT", "PATCH")
    )


@attrs.frozen
class ErrorBody:
    """Where an error answer's code and detail are (JMESPath), and which codes mean "not
    ready yet" on a 409 (a conflict that waiting cures)."""

    code: str | None = attrs.field(default=None, validator=_expression)
    detail: str | None = attrs.field(default=None, validator=_expression)
    not_ready_codes: tuple[str, ...] = attrs.field(
        default=(), converter=_strings, validator=_names_of("code")
    )


@attrs.frozen
class ApiSpec:
    """A JSON job API, declared. Compile it with :class:`~fastwait.providers.DeclaredProvider`.

    ``name`` is what registry keys, the CLI and webhook routes (``/hooks/{name}``) use;
    ``base_url`` the API root (the constructor or ``--base-url`` may give another).
    ``signs_webhooks`` is False for an API whose webhooks carry no Standard Webhooks signature
    (it then gets per-job callback tokens). ``examples`` are body fragments by state name
    (``"running"``, ``"failed"``, ...): each is checked to read as its state when the spec is
    compiled, and the fake lays them into the bodies it sends, which a computed ``state``
    expression needs.
    """

    name: str = attrs.field()
    status: Status = attrs.field(validator=_instance(Status))
    states: States = attrs.field(validator=_instance(States))
    base_url: str | None = attrs.field(default=None, validator=_instance(str, optional=True))
    auth: Auth | None = attrs.field(default=None, validator=_instance(Auth, optional=True))
    submit: Submit | None = attrs.field(default=None, validator=_instance(Submit, optional=True))
    cancel: Cancel | None = attrs.field(default=None, validator=_instance(Cancel, optional=True))
    errors: ErrorBody = attrs.field(factory=ErrorBody, validator=_instance(ErrorBody))
    signs_webhooks: bool = attrs.field(default=True, validator=_instance(bool))
    examples: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise SpecError(attribute.name, "must be 1-40 of a-z 0-9 _ -, starting with a letter")
        if value in _RESERVED_NAMES:
            raise SpecError(attribute.name, f"{value!r} is a built-in provider's name")

    @examples.validator
    def _check_examples(
        self, attribute: attrs.Attribute[Mapping[str, Mapping[str, Any]]], value: object
    ) -> None:
        states = [state.name.lower() for state in JobState]
        if not isinstance(value, Mapping):
            raise SpecError(attribute.name, "must map state names to JSON objects")
        for state, body in value.items():
            if state not in states:
                raise SpecError(f"{attribute.name}.{state}", "is not one of " + ", ".join(states))
            if not isinstance(body, Mapping):
                raise SpecError(f"{attribute.name}.{state}", "must be a JSON object")
