"""The ``/_fake/`` control routes: drive and observe a fake running in another process.

Benchmarks start ``python -m fastwait.testing`` in a subprocess and cannot call
``create_job``/``jobs()`` directly, so the same operations are offered over HTTP, without auth:

- ``POST /_fake/jobs`` ``{"provider", "count", "duration"?, "fail"?, "fails_at"?,
  "queue_time"?, "curve"?, "file_name"?, "target_format"?, "callback_url"?}`` ->
  ``{"ids": [...]}`` (``provider``: a built-in API's name or a declared one's); unset
  values are drawn from the fake's job model for each job
  (``duration`` counts from submission, queue included; ``fails_at`` is the share of its
  running time at which a failing job ends; ``curve`` a :class:`ProgressCurve` value)
- ``GET /_fake/jobs?provider=...`` -> ``{"jobs": [{"provider", "id", "requests",
  "submitted_at", "started_at", "completes_at", "terminal_seen_at", "final_state", "curve",
  "canceled"}, ...]}``
- ``GET /_fake/clock`` -> ``{"now": ...}``, in the same clock as the job times
- ``GET /_fake/stats`` -> ``{"requests", "webhooks_sent", "webhooks_dropped"}``
- ``GET /_fake/faults`` -> the fault knobs ``{"error_rate", "rate_limit_rate", "drop_rate",
  "truncate_rate", "delay", "retry_after", "pending"}``; ``PATCH /_fake/faults`` sets any of
  the knobs and, with ``"fail_next": {"count"?, "status"?, "retry_after"?, "kind"?}``, queues
  exact failures (all or nothing); ``DELETE /_fake/faults`` turns every fault off

Bad input is 400 ``{"error": "..."}``. These requests are not counted in ``request_count``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
from aiohttp import web

from fastwait.exceptions import ConfigurationError
from fastwait.testing._faults import Faults
from fastwait.testing._http import json_response
from fastwait.testing._job_models import ProgressCurve
from fastwait.testing._jobs import FakeJob
from fastwait.testing._state import FakeState

__all__ = ["PREFIX", "ControlApi"]

PREFIX = "/_fake/"
_MAX_BULK = 1_000_000
_KNOBS = tuple(field.name for field in attrs.fields(Faults) if field.init)
"""The fault settings ``GET``/``PATCH /_fake/faults`` read and change: those of :class:`Faults`."""


def _job_row(job: FakeJob) -> dict[str, Any]:
    return {
        "provider": job.provider,
        "id": job.id,
        "requests": job.requests,
        "submitted_at": job.submitted_at,
        "started_at": job.started_at,
        "completes_at": job.completes_at,
        "terminal_seen_at": job.terminal_seen_at,
        "final_state": job.final_state,
        "curve": job.curve.value,
        "canceled": job.canceled,
    }


def _optional(body: dict[str, Any], key: str, *kinds: type) -> Any:
    """``body[key]`` if absent/null or of one of ``kinds`` (a bool is not a number here)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ConfigurationError(f"{key} must be {' or '.join(k.__name__ for k in kinds)}")
    return value


def _curve(name: str) -> ProgressCurve:
    try:
        return ProgressCurve(name)
    except ValueError:
        known = ", ".join(curve.value for curve in ProgressCurve)
        raise ConfigurationError(f"curve must be one of {known}, got {name!r}") from None


class ControlApi:
    """The control routes over the shared state; ``webhook_stats`` reads (sent, dropped)."""

    def __init__(self, state: FakeState, webhook_stats: Callable[[], tuple[int, int]]) -> None:
        self._state = state
        self._webhook_stats = webhook_stats

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(f"{PREFIX}jobs", self._create)
        app.router.add_get(f"{PREFIX}jobs", self._list)
        app.router.add_get(f"{PREFIX}clock", self._clock)
        app.router.add_get(f"{PREFIX}stats", self._stats)
        app.router.add_get(f"{PREFIX}faults", self._faults)
        app.router.add_patch(f"{PREFIX}faults", self._set_faults)
        app.router.add_delete(f"{PREFIX}faults", self._clear_faults)

    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ConfigurationError("the body must be a JSON object")
            provider = self._state.check(str(body.get("provider")))
            count = body.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_BULK:
                raise ConfigurationError(f"count must be an integer in [0, {_MAX_BULK}]")
            duration = _optional(body, "duration", int, float)
            queue_time = _optional(body, "queue_time", int, float)
            fail = _optional(body, "fail", bool)
            fails_at = _optional(body, "fails_at", int, float)
            curve_name = _optional(body, "curve", str)
            curve = None if curve_name is None else _curve(curve_name)
            file_name = _optional(body, "file_name", str) or "photo.jpg"
            target_format = _optional(body, "target_format", str)
            callback_url = _optional(body, "callback_url", str)
        except (ValueError, ConfigurationError) as exc:
            return json_response({"error": str(exc)}, 400)
        try:
            ids = [
                self._state.new_job(
                    provider,
                    file_name=file_name,
                    duration=None if duration is None else float(duration),
                    fail=fail,
                    fails_at=None if fails_at is None else float(fails_at),
                    curve=curve,
                    target_format=target_format,
                    callback_url=callback_url,
                    queue_time=None if queue_time is None else float(queue_time),
                ).id
                for _ in range(count)
            ]
        except ConfigurationError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ids": ids})

    async def _list(self, request: web.Request) -> web.Response:
        name = request.query.get("provider")
        try:
            providers = [self._state.check(name)] if name else list(self._state.jobs)
        except ConfigurationError as exc:
            return json_response({"error": str(exc)}, 400)
        rows = [_job_row(job) for p in providers for job in self._state.jobs[p].values()]
        return json_response({"jobs": rows})

    async def _clock(self, request: web.Request) -> web.Response:
        return json_response({"now": self._state.clock()})

    async def _stats(self, request: web.Request) -> web.Response:
        sent, dropped = self._webhook_stats()
        return json_response(
            {
                "requests": self._state.request_count,
                "webhooks_sent": sent,
                "webhooks_dropped": dropped,
            }
        )

    def _fault_state(self) -> dict[str, Any]:
        faults = self._state.faults
        return {**{knob: getattr(faults, knob) for knob in _KNOBS}, "pending": faults.pending}

    async def _faults(self, request: web.Request) -> web.Response:
        return json_response(self._fault_state())

    async def _set_faults(self, request: web.Request) -> web.Response:
        faults = self._state.faults
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ConfigurationError("the body must be a JSON object")
            unknown = set(body) - {*_KNOBS, "fail_next"}
            if unknown:
                raise ConfigurationError(f"unknown fault settings: {', '.join(sorted(unknown))}")
            knobs = {knob: getattr(faults, knob) for knob in _KNOBS}
            for knob in _KNOBS:
                value = _optional(body, knob, int, float)
                if value is not None:
                    knobs[knob] = float(value)
            Faults(**knobs)  # every value checked before any is applied
            fail_next = body.get("fail_next")
            if fail_next is not None:
                queued = _fail_next_arguments(fail_next)
                Faults().fail_next(**queued)  # checked the same way
        except (ValueError, ConfigurationError) as exc:
            return json_response({"error": str(exc)}, 400)
        for knob, value in knobs.items():
            setattr(faults, knob, value)
        if fail_next is not None:
            faults.fail_next(**queued)
        return json_response(self._fault_state())

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self._state.faults.clear()
        return json_response(self._fault_state())


def _fail_next_arguments(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError("fail_next must be an object")
    unknown = set(value) - {"count", "status", "retry_after", "kind"}
    if unknown:
        raise ConfigurationError(f"unknown fail_next settings: {', '.join(sorted(unknown))}")
    arguments: dict[str, Any] = {}
    for key, kinds in (("count", (int,)), ("status", (int,)), ("retry_after", (int, float))):
        found = _optional(value, key, *kinds)
        if found is not None:
            arguments[key] = found
    kind = _optional(value, "kind", str)
    if kind is not None:
        arguments["kind"] = kind
    return arguments
