"""The fake plays a declared API: the routes and bodies an :class:`ApiSpec` describes.

The same spec that drives the client drives the fake: a status body is written at the places
the spec's JMESPath paths read (``id``, ``state``, ``progress``, ``output_url``, the error code
and detail), the state value is the first the spec maps to the job's phase, the metrics
``input_bytes`` and ``output_bytes`` (when the spec names them) are the job's, and the spec's
``examples`` are laid over it (what a computed ``state`` expression, like AIP-151's, needs).
Every phase's body is read back through a :class:`DeclaredProvider` of the same spec when the
fake is made, so a spec the fake cannot play is refused then, never served wrong.

The API lives under ``/{name}`` of the fake's URL (``fake.base_url(name)``); job ids are
dashed UUIDv7s (their creation time readable, as from tools.fast's ids). Where a spec is
silent: output bytes are served at ``/{name}/_outputs/{id}`` (the ``output_url`` of a
succeeded job); a missing or wrong credential is 401, an unknown job 404, canceling an ended
job 409, each in the spec's error envelope (``{"error": {"code", "message"}}`` when it names
none); a phase without a state value of its own is sent as its neighbour's (queued as running,
canceled as failed).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from fastwait._models import JobState
from fastwait.exceptions import BadResponseError, ConfigurationError
from fastwait.providers import ApiSpec, DeclaredProvider
from fastwait.providers._declared import writable_keys
from fastwait.testing._http import (
    FormError,
    answer_job_request,
    callback_url_is_valid,
    format_seconds,
    json_response,
    read_form,
)
from fastwait.testing._jobs import (
    FakeJob,
    JobPhase,
    output_expired,
    phase_at,
    reported_percent,
    with_terminal_fields,
)
from fastwait.testing._outputs import content_disposition, file_bytes, served
from fastwait.testing._state import FakeState

__all__ = ["DeclaredApi"]

_STATES: Final = {
    JobPhase.QUEUED: JobState.QUEUED,
    JobPhase.RUNNING: JobState.RUNNING,
    JobPhase.SUCCEEDED: JobState.SUCCEEDED,
    JobPhase.FAILED: JobState.FAILED,
    JobPhase.CANCELED: JobState.CANCELED,
}
_STAND_IN: Final = {JobState.QUEUED: JobState.RUNNING, JobState.CANCELED: JobState.FAILED}
_FAULT_CODES: Final = {429: "rate_limited", 503: "unavailable"}


def _put(body: dict[str, Any], keys: tuple[str, ...] | None, value: Any) -> None:
    if not keys:
        return
    for key in keys[:-1]:
        inner = body.get(key)
        if not isinstance(inner, dict):
            inner = body[key] = {}
        body = inner
    body[keys[-1]] = value


def _merge(body: dict[str, Any], fragment: Mapping[str, Any]) -> None:
    for key, value in fragment.items():
        if isinstance(value, Mapping) and isinstance(body.get(key), dict):
            _merge(body[key], value)
        else:
            body[key] = copy.deepcopy(value)


def _keys(expression: str | None) -> tuple[str, ...] | None:
    return None if expression is None else writable_keys(expression)


class DeclaredApi:
    """One declared API's routes over the fake's shared state.

    Raises :class:`ConfigurationError` when the spec's bodies cannot be written so that the
    spec reads them back (a computed ``state`` without ``examples`` for each phase, say).
    """

    def __init__(self, state: FakeState, spec: ApiSpec, retry_after: float | None = None) -> None:
        self._state = state
        self._spec = spec
        self._retry_after = retry_after
        self._prefix = f"/{spec.name}"
        status = spec.status
        self._id_keys = _keys(status.id)
        self._state_keys = _keys(status.state)
        self._progress_keys = _keys(status.progress)
        self._output_keys = _keys(status.output_url)
        self._code_keys = _keys(status.error_code)
        self._detail_keys = _keys(status.error_detail)
        self._metric_keys = {name: _keys(text) for name, text in status.metrics.items()}
        self._check_playable()

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def spec(self) -> ApiSpec:
        return self._spec

    @property
    def signs_webhooks(self) -> bool:
        return self._spec.signs_webhooks

    # -- bodies -----------------------------------------------------------------------------

    def _sent_state(self, phase: JobPhase) -> JobState:
        """The state a body of ``phase`` shows: its own if the spec names a value for it."""
        state = _STATES[phase]
        has_value = self._spec.states.first(state) is not None
        return state if has_value or state not in _STAND_IN else _STAND_IN[state]

    def _render(
        self,
        job_id: str,
        phase: JobPhase,
        percent: float | None,
        output_url: str,
        metrics: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        spec = self._spec
        state = self._sent_state(phase)
        body: dict[str, Any] = {}
        for name, value in (metrics or {}).items():
            _put(body, self._metric_keys.get(name), value)
        _put(body, self._id_keys, spec.status.id_format.replace("{id}", job_id))
        _put(body, self._state_keys, spec.states.first(state))
        if percent is not None:
            _put(body, self._progress_keys, percent * spec.status.progress_scale / 100.0)
        if state is JobState.SUCCEEDED:
            _put(body, self._output_keys, output_url)
        elif state is JobState.FAILED:
            _put(body, self._code_keys, "fake.failed")
            _put(body, self._detail_keys, "The job failed.")
        elif state is JobState.CANCELED:
            _put(body, self._code_keys, "fake.canceled")
            _put(body, self._detail_keys, "The job was canceled.")
        _merge(body, spec.examples.get(state.name.lower(), {}))
        return body

    def _check_playable(self) -> None:
        """Render each phase's body once and read it back with the spec: refuse what fails."""
        spec = self._spec
        if self._id_keys is None:
            raise ConfigurationError(
                f"the fake cannot play {spec.name}: status.id ({spec.status.id}) is not a plain"
                " path it can write"
            )
        reader = DeclaredProvider(spec, api_key="fake-check", base_url="http://fake.invalid")
        for phase in JobPhase:
            state = self._sent_state(phase)
            body = self._render("job-1", phase, 50.0, "http://fake.invalid/out")
            try:
                read = reader.parse_status(body)
            except BadResponseError as exc:
                problem: str | None = str(exc)
            else:
                problem = None if read.state is state else f"it reads as {read.state.name}"
                if read.id != "job-1":
                    problem = f"its id reads as {read.id!r}"
            if problem is not None:
                raise ConfigurationError(
                    f"the fake cannot play {spec.name}: a {state.name.lower()} body it writes"
                    f" does not read back ({problem}); give examples.{state.name.lower()}"
                )

    def status_payload(self, job: FakeJob, now: float, *, noisy: bool = False) -> dict[str, Any]:
        """The status body of ``job`` at ``now`` (also the body of its webhook)."""
        phase = phase_at(job, now)
        percent: float | None = None
        if self._progress_keys is not None:
            if phase is JobPhase.QUEUED:
                percent = 0.0
            elif phase is JobPhase.SUCCEEDED:
                percent = 100.0
            else:
                reading = None
                if noisy and phase is JobPhase.RUNNING:
                    reading = job.readings
                    job.readings += 1
                percent = round(reported_percent(job, now, reading), 1)
        output_url = f"{self._state.url}{self._prefix}/_outputs/{job.id}"
        metrics = {"input_bytes": job.input_bytes}
        if phase is JobPhase.SUCCEEDED:
            metrics["output_bytes"] = self._state.config.output_size
        body = self._render(job.id, phase, percent, output_url, metrics)
        return with_terminal_fields(job, now, body)

    # -- routes -----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        spec, prefix = self._spec, self._prefix
        app.router.add_get(prefix + spec.status.path.partition("?")[0], self._status)
        app.router.add_get(f"{prefix}/_outputs/{{id}}", self._output)
        if spec.submit is not None:
            app.router.add_route(spec.submit.method, prefix + spec.submit.path, self._submit)
        if spec.cancel is not None:
            path = prefix + spec.cancel.path.partition("?")[0]
            app.router.add_route(spec.cancel.method, path, self._cancel)

    def _error(self, status: int, code: str, message: str) -> web.Response:
        envelope = self._spec.errors
        body: dict[str, Any] = {}
        _put(body, _keys(envelope.code), code)
        _put(body, _keys(envelope.detail), message)
        return json_response(body or {"error": {"code": code, "message": message}}, status)

    def _fault_response(self, status: int) -> web.Response:
        return self._error(status, _FAULT_CODES.get(status, "internal"), f"HTTP {status}")

    def _authenticated(self, request: web.Request) -> bool:
        auth = self._spec.auth
        if auth is None:
            return True
        key = self._state.config.api_key
        sent = request.headers.get(auth.header, "")
        if auth.scheme == "header":
            return sent == key
        scheme, _, credentials = sent.partition(" ")
        if auth.scheme == "bearer":
            return scheme.lower() == "bearer" and credentials.strip() == key
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and decoded in (key, f"{key}:")

    def _guard(self, request: web.Request, job: FakeJob | None) -> FakeJob | web.Response:
        if not self._authenticated(request):
            return self._error(401, "unauthorized", "Missing or invalid credentials")
        if job is None or job.deleted or job.owner is not None:
            return self._error(404, "not_found", "No such job")
        return job

    def _headers(self, terminal: bool) -> dict[str, str] | None:
        if self._retry_after is None or terminal:
            return None
        return {"Retry-After": format_seconds(self._retry_after)}

    async def _status(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find(self.name, request.match_info["id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            terminal = phase_at(found, now).is_terminal
            if complete and terminal and found.terminal_seen_at is None:
                found.terminal_seen_at = now
            body = self.status_payload(found, now, noisy=complete)
            return json_response(body, headers=self._headers(terminal))

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _submit(self, request: web.Request) -> web.Response:
        submit = self._spec.submit
        assert submit is not None
        if not self._authenticated(request):
            return self._error(401, "unauthorized", "Missing or invalid credentials")
        file_name = "input"
        try:
            if submit.body == "multipart":
                form = await read_form(request)
                upload = form.files.get(submit.file_field)
                if upload is None:
                    return self._error(400, "invalid_input", f"no file in {submit.file_field}")
                fields: Mapping[str, Any] = form.fields
                file_name = upload.file_name
            else:
                fields = json.loads(await request.read())
                if not isinstance(fields, dict):
                    raise FormError("the body must be a JSON object")
        except (FormError, ValueError) as exc:
            return self._error(400, "invalid_input", str(exc))
        callback = fields.get(submit.callback_field) if submit.callback_field else None
        if callback is not None and not (
            isinstance(callback, str) and callback_url_is_valid(callback)
        ):
            return self._error(400, "invalid_input", "the callback must be an http(s) URL")
        job = self._state.new_job(self.name, file_name=file_name, callback_url=callback)
        now = self._state.clock()
        body = self.status_payload(job, now)
        _put(body, _keys(submit.id), self._spec.status.id_format.replace("{id}", job.id))
        if submit.state is not None:
            state = self._sent_state(phase_at(job, now))
            _put(body, _keys(submit.state), self._spec.states.first(state))
        headers = dict(self._headers(False) or {})
        if submit.follow:
            path = self._spec.status.path.replace("{id}", job.id)
            headers[submit.follow[0]] = f"{self._state.url}{self._prefix}{path}"
        return json_response(body, 202, headers)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find(self.name, request.match_info["id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now).is_terminal:
                return self._error(409, "conflict", "The job has ended")
            found.canceled = True
            found.canceled_at = now
            if found.callback_url is not None:
                self._state.schedule_webhook(found)
            return json_response(self.status_payload(found, now), 202)

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _output(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find(self.name, request.match_info["id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now) is not JobPhase.SUCCEEDED:
                return self._error(404, "not_found", "No output")
            if output_expired(found, now, self._state.config.output_ttl):
                return self._error(410, "expired", "The output has expired")
            data = file_bytes(found, self._state.config.output_size)
            return web.Response(
                body=served(found, data),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Disposition": content_disposition("output.bin"),
                },
            )

        return await answer_job_request(request, self._state, job, self._fault_response, respond)
