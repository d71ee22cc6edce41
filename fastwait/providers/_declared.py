"""DeclaredProvider: an :class:`ApiSpec` compiled once into a sans-I/O :class:`Provider`.

botocore's waiter model is the pattern: data (paths, JMESPath expressions, a state map) is
compiled into an object when it is made, so every mistake in it is found then, and each status
costs only the compiled searches. Credentials come from the environment variable the spec names
(or an ``api_key`` argument), never from the spec.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from fastwait._models import EMPTY_MAPPING, JobAccepted, JobState, JobStatus
from fastwait.exceptions import (
    ApiError,
    BadResponseError,
    ConfigurationError,
    SpecError,
    UnsupportedOperationError,
)
from fastwait.providers._base import ApiRequest, Provider
from fastwait.providers._errors import api_error, decode_json, redact
from fastwait.providers._headers import header_value
from fastwait.providers._spec import ApiSpec
from fastwait.providers._urls import (
    require_base_url,
    require_http_url,
    resolve_download_url,
    same_origin,
)
from fastwait.providers._validation import is_job_id, require_job_id, require_secret

__all__ = ["DeclaredProvider", "writable_keys"]


def writable_keys(expression: str) -> tuple[str, ...] | None:
    """The object keys a plain path (``a.b.c``) names, or None for a computed expression.

    A fake can write a value where a plain path reads it; it cannot invert a computation.
    """
    keys: list[str] = []

    def walk(node: Mapping[str, Any]) -> bool:
        if node["type"] == "field":
            keys.append(node["value"])
            return True
        if node["type"] == "subexpression":
            return all(walk(child) for child in node["children"])
        return False

    return tuple(keys) if walk(jmespath.compile(expression).parsed) else None


class _Expression:
    """A compiled JMESPath expression that remembers its text, to name it in errors."""

    __slots__ = ("parsed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parsed: ParsedResult = jmespath.compile(text)

    def search(self, payload: Any, source: str) -> Any:
        try:
            return self.parsed.search(payload)
        except JMESPathError:
            raise BadResponseError(f"{source}: cannot evaluate @ {self.text}") from None


def _optional(text: str | None) -> _Expression | None:
    return None if text is None else _Expression(text)


def _template_pattern(template: str) -> re.Pattern[str]:
    """A pattern matching ``template`` (one ``{id}``) with the id as group ``id``."""
    before, _, after = template.partition("{id}")
    return re.compile(re.escape(before) + r"(?P<id>[^/?#]+)" + re.escape(after))


class DeclaredProvider(Provider):
    """A job API described by an :class:`ApiSpec`, as a provider.

    The credential is ``api_key`` or else the environment variable ``spec.auth.env`` (read
    from ``environ``, default ``os.environ``); ``base_url`` overrides ``spec.base_url``.
    Raises :class:`~fastwait.exceptions.SpecError` naming the field for a spec that cannot
    work, and :class:`ConfigurationError` for a missing credential or base URL: both before
    any request. Operations the spec does not declare raise
    :class:`UnsupportedOperationError`.
    """

    name: ClassVar[str] = "declared"

    def __init__(
        self,
        spec: ApiSpec,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(spec, ApiSpec):
            raise ConfigurationError(f"expected an ApiSpec, not {type(spec).__name__}")
        self.spec = spec
        # Instance values over the class defaults: one class serves every declared API.
        vars(self).update(
            name=spec.name,
            reports_progress=spec.status.progress is not None,
            signs_webhooks=spec.signs_webhooks,
        )
        root = base_url or spec.base_url
        if not root:
            raise ConfigurationError(f"{spec.name} needs a base URL (the spec names none)")
        self.base_url = require_base_url(root)
        self._secret_values: tuple[str, ...] = ()
        self._headers = self._auth_headers(api_key, os.environ if environ is None else environ)
        status = spec.status
        self._state = _Expression(status.state)
        self._id = _Expression(status.id)
        self._progress = _optional(status.progress)
        self._output_url = _optional(status.output_url)
        self._error_code = _optional(status.error_code)
        self._error_detail = _optional(status.error_detail)
        self._metrics = {name: _Expression(text) for name, text in status.metrics.items()}
        self._envelope_code = _optional(spec.errors.code)
        self._envelope_detail = _optional(spec.errors.detail)
        self._states = spec.states.mapping()
        self._id_in_body = _template_pattern(status.id_format)
        self._status_path = _template_pattern(status.path.partition("?")[0])
        submit = spec.submit
        self._accepted_id = _optional(submit.id) if submit else None
        self._accepted_state = _optional(submit.state) if submit else None
        self._check_examples()

    def _auth_headers(self, api_key: str | None, environ: Mapping[str, str]) -> dict[str, str]:
        auth = self.spec.auth
        if auth is None:
            return {}
        credential = api_key or environ.get(auth.env)
        if not credential:
            raise ConfigurationError(
                f"{self.spec.name} needs its credential in the environment variable {auth.env}"
            )
        secret = require_secret(credential, auth.env)
        self._secret_values = (secret,)
        if auth.scheme == "bearer":
            return {auth.header: f"Bearer {secret}"}
        if auth.scheme == "header":
            return {auth.header: secret}
        user, colon, password = secret.partition(":")
        token = base64.b64encode(f"{user}:{password if colon else ''}".encode()).decode("ascii")
        self._secret_values = (secret, token)
        return {auth.header: f"Basic {token}"}

    def _check_examples(self) -> None:
        """Each example body must read as its state: a wrong expression is found now."""
        for state, body in self.spec.examples.items():
            found = self._state.search(body, self.name)
            read = self._states.get(found.casefold()) if isinstance(found, str) else None
            if read is not JobState[state.upper()]:
                raise SpecError(
                    f"examples.{state}",
                    f"reads as {found!r} by status.state ({self._state.text}), "
                    f"which is not a {state} state",
                )

    @classmethod
    def from_settings(cls, api_key: str | None, base_url: str | None) -> Self:
        """Refused: a declared provider is built from its spec, ``DeclaredProvider(spec)``."""
        raise ConfigurationError(
            "a DeclaredProvider is built from its spec: DeclaredProvider(spec)"
        )

    def __repr__(self) -> str:
        return f"DeclaredProvider({self.name!r}, base_url={self.base_url!r})"

    def secrets(self) -> tuple[str, ...]:
        """The credential, and its Basic token: removed from any text an error carries."""
        return self._secret_values

    @property
    def _secrets(self) -> tuple[str, ...]:
        return self._secret_values

    # --- requests -------------------------------------------------------------------------
    def _url(self, path: str, job_id: str | None = None) -> str:
        if job_id is not None:
            path = path.replace("{id}", require_job_id(job_id))
        return self.base_url + path

    def status_request(self, job_id: str) -> ApiRequest:
        return ApiRequest("GET", self._url(self.spec.status.path, job_id), dict(self._headers))

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """The spec's submit: multipart with the file, or a JSON object of fields."""
        submit = self.spec.submit
        if submit is None:
            raise UnsupportedOperationError(f"the {self.name} spec declares no submit")
        fields = {**submit.fields, **options}
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in fields.items()):
            raise ConfigurationError("submit options must map strings to strings")
        if callback_url is not None:
            if submit.callback_field is None:
                raise UnsupportedOperationError(
                    f"the {self.name} spec declares no callback field (submit.callback_field)"
                )
            fields[submit.callback_field] = require_http_url(callback_url, "callback_url")
        url = self._url(submit.path)
        if submit.body == "json":
            return ApiRequest(submit.method, url, dict(self._headers), json=fields)
        return ApiRequest(
            submit.method, url, dict(self._headers), fields, file_field=submit.file_field
        )

    def cancel_request(self, job_id: str) -> ApiRequest:
        cancel = self.spec.cancel
        if cancel is None:
            raise UnsupportedOperationError(f"the {self.name} spec declares no cancel")
        return ApiRequest(cancel.method, self._url(cancel.path, job_id), dict(self._headers))

    # --- translation (pure) ---------------------------------------------------------------
    def _text(self, expression: _Expression | None, payload: Any) -> str | None:
        """A string (or a number, as text) at ``expression``; None when absent."""
        if expression is None:
            return None
        value = expression.search(payload, self.name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise BadResponseError(f"{self.name}: expected a string @ {expression.text}")

    def _job_id(self, payload: Any) -> str:
        value = self._text(self._id, payload)
        match = None if value is None else self._id_in_body.fullmatch(value)
        if match is None or not is_job_id(match["id"]):
            raise BadResponseError(f"{self.name}: not a valid job id @ {self._id.text}")
        return match["id"]

    def _read_state(self, expression: _Expression, payload: Any) -> JobState:
        value = expression.search(payload, self.name)
        if not isinstance(value, str):
            raise BadResponseError(f"{self.name}: expected a state name @ {expression.text}")
        state = self._states.get(value.casefold())
        if state is None:
            shown = (redact(value, self._secrets) or "")[:40]
            raise BadResponseError(
                f"{self.name}: unknown job status {shown!r} @ {expression.text}"
                " (not in the spec's states)"
            )
        return state

    def _percent(self, payload: Any) -> float | None:
        if self._progress is None:
            return None
        value = self._progress.search(payload, self.name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadResponseError(f"{self.name}: expected a number @ {self._progress.text}")
        return min(100.0, max(0.0, value * 100.0 / self.spec.status.progress_scale))

    def _read_metrics(self, payload: Any) -> Mapping[str, Any]:
        metrics: dict[str, Any] = {}
        for name, expression in self._metrics.items():
            value = expression.search(payload, self.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadResponseError(f"{self.name}: expected a number @ {expression.text}")
            metrics[name] = value
        return metrics or EMPTY_MAPPING

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        if not isinstance(payload, Mapping):
            raise BadResponseError(f"{self.name}: expected an object @ $")
        state = self._read_state(self._state, payload)
        download_url = self._text(self._output_url, payload)
        if download_url is not None:
            assert self._output_url is not None
            download_url = resolve_download_url(
                self.base_url, download_url, source=self.name, field=self._output_url.text
            )
        ended_badly = state in (JobState.FAILED, JobState.CANCELED)
        return JobStatus(
            id=self._job_id(payload),
            provider=self.name,
            state=state,
            progress_percent=self._percent(payload),
            metrics=self._read_metrics(payload),
            error_code=redact(self._text(self._error_code, payload), self._secrets)
            if ended_badly
            else None,
            error_detail=redact(self._text(self._error_detail, payload), self._secrets)
            if ended_badly
            else None,
            download_url=download_url,
            raw=payload if keep_raw else EMPTY_MAPPING,
        )

    def parse_accepted(self, payload: Any) -> JobAccepted:
        """The submit answer's body: the id at ``submit.id``, the state at ``submit.state``."""
        return self.parse_submit_answer(payload, {})

    def parse_submit_answer(self, payload: Any, headers: Mapping[str, str]) -> JobAccepted:
        """The submit answer: the id from the first ``submit.follow`` header present (a URL
        whose path matches the status path), else from the body at ``submit.id``."""
        submit = self.spec.submit
        if submit is None:
            raise UnsupportedOperationError(f"the {self.name} spec declares no submit")
        job_id = None
        for header in submit.follow:
            location = header_value(headers, header)
            if location is not None:
                job_id = self._followed_id(location, header)
                break
        body = payload if isinstance(payload, Mapping) else {}
        if job_id is None:
            if self._accepted_id is None or not isinstance(payload, Mapping):
                raise BadResponseError(
                    f"{self.name}: the submit answer has no job id (no "
                    f"{' or '.join(submit.follow) or 'id'} header, no object body)"
                )
            value = self._accepted_id.search(payload, self.name)
            match = self._id_in_body.fullmatch(value) if isinstance(value, str) else None
            if match is None or not is_job_id(match["id"]):
                raise BadResponseError(
                    f"{self.name}: not a valid job id @ {self._accepted_id.text}"
                )
            job_id = match["id"]
        state = JobState.QUEUED
        if self._accepted_state is not None and body:
            state = self._read_state(self._accepted_state, body)
        return JobAccepted(id=job_id, provider=self.name, state=state, raw=body)

    def _followed_id(self, location: str, header: str) -> str:
        url = urllib.parse.urljoin(self.base_url + "/", location)
        parts = urllib.parse.urlsplit(url)
        base_path = urllib.parse.urlsplit(self.base_url).path
        path = parts.path[len(base_path) :] if parts.path.startswith(base_path) else None
        match = None if path is None else self._status_path.fullmatch(path)
        if not same_origin(url, self.base_url) or match is None or not is_job_id(match["id"]):
            raise BadResponseError(
                f"{self.name}: the {header} header is not a status URL of this API"
                f" ({self.spec.status.path} under the base URL)"
            )
        return match["id"]

    def parse_error(
        self,
        http_status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        now: datetime | None = None,
    ) -> ApiError:
        """The error envelope at ``errors.code``/``errors.detail``; the class by status."""
        code = detail = None
        decoded = decode_json(body)
        if decoded is not None:
            try:
                code = self._text(self._envelope_code, decoded)
                detail = self._text(self._envelope_detail, decoded)
            except BadResponseError:
                code = detail = None
        return api_error(
            http_status,
            code,
            detail,
            headers,
            not_ready_codes=self.spec.errors.not_ready_codes,
            secrets=self._secrets,
            now=now,
        )
