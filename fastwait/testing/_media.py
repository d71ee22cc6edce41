"""The self-hosted media optimizer's async jobs, as seed 004 specifies them.

Submit (``POST /api/media/jobs``), poll (``GET /api/media/jobs/{id}``), and the local-storage
download the done payload's ``downloadUrl`` points at. Where the seed is silent:

- Errors use ``{"error": {"code": ..., "message": ...}}`` with the seed's kebab-case codes
  (``invalid-input``, ``not-found``, ``not-ready``); the fake adds ``unauthorized`` (401, only
  when a ``media_token`` is configured), ``expired`` (410, a download after the output TTL, as
  the 1 h pre-signed URLs would fail) and ``rate-limited``/``unavailable`` for injected faults.
- Images become WebP, video WebM/VP9 and audio Ogg/Opus; other files pass through unchanged.
  Output widths follow the preset (``low-bandwidth`` 720, ``web`` 1280, ``high-quality``
  1920); any preset made of ``[a-z0-9-]`` is accepted.
- Every status carries ``jobId``, ``status``, ``preset``, ``filename`` and ``inputBytes``;
  ``result`` and ``downloadUrl`` only when done, ``error`` only when failed.
- Webhooks (``callbackUrl``) are never signed: a self-hosted optimizer has no signing key, so
  clients use a per-job secret URL instead.
"""

from __future__ import annotations

import re
from typing import Any, Final

from aiohttp import web

from fastwait.testing import _formats
from fastwait.testing._http import (
    FormError,
    answer_job_request,
    callback_url_is_valid,
    json_response,
    read_form,
)
from fastwait.testing._jobs import (
    FakeJob,
    JobPhase,
    output_expired,
    phase_at,
    with_terminal_fields,
)
from fastwait.testing._outputs import content_disposition, file_bytes, served
from fastwait.testing._state import FakeState

__all__ = ["MediaApi"]

_STATUS: Final = {
    JobPhase.QUEUED: "pending",
    JobPhase.RUNNING: "processing",
    JobPhase.SUCCEEDED: "done",
    JobPhase.FAILED: "failed",
    JobPhase.CANCELED: "failed",
}
_PRESET: Final = re.compile(r"[a-z0-9-]{1,64}")
_WIDTHS: Final = {"low-bandwidth": 720, "web": 1280, "high-quality": 1920}
# kind -> (strategy, content type, extension); None keeps the input's own
_STRATEGIES: Final = {
    "image": ("image-webp", "image/webp", "webp"),
    "video": ("video-webm-vp9", "video/webm", "webm"),
    "audio": ("audio-opus", "audio/ogg", "ogg"),
}
_FAULT_CODES: Final = {429: "rate-limited", 503: "unavailable"}


def _error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status)


class MediaApi:
    """The media optimizer's job routes over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/media/jobs", self._submit)
        app.router.add_get("/api/media/jobs/{job_id}", self._status)
        app.router.add_get("/api/media/jobs/{job_id}/download", self._download)

    def status_payload(self, job: FakeJob, now: float) -> dict[str, Any]:
        """The status body of ``job`` at ``now`` (also the body of its webhook)."""
        return with_terminal_fields(job, now, self._payload(job, now))

    def _payload(self, job: FakeJob, now: float) -> dict[str, Any]:
        phase = phase_at(job, now)
        body: dict[str, Any] = {
            "jobId": job.id,
            "status": _STATUS[phase],
            "preset": job.preset or "web",
            "filename": _formats.base_name(job.file_name),
            "inputBytes": job.input_bytes,
        }
        if phase is JobPhase.SUCCEEDED:
            body["result"] = self._result(job)
            body["downloadUrl"] = f"{self._state.url}/api/media/jobs/{job.id}/download"
        elif phase is JobPhase.FAILED:
            body["error"] = {"message": "Encoder exited with status 1", "code": "encode-failed"}
        elif phase is JobPhase.CANCELED:
            body["error"] = {"message": "Job was canceled", "code": "canceled"}
        return body

    def _output(self, job: FakeJob) -> tuple[str, str, str, str]:
        """kind, strategy, content type and file name of the job's output."""
        stem, raw = _formats.split_name(job.file_name)
        source = _formats.lookup(raw)
        kind = source.kind if source else "file"
        if kind in _STRATEGIES:
            strategy, mime, ext = _STRATEGIES[kind]
        else:
            strategy, mime = "passthrough", source.mime if source else "application/octet-stream"
            ext = source.ext if source else raw
        name = job.output_file_name or (f"{stem}.{ext}" if ext else stem)
        return kind, strategy, mime, name

    def _result(self, job: FakeJob) -> dict[str, Any]:
        kind, strategy, mime, name = self._output(job)
        output_bytes = self._state.config.output_size
        saved = max(0, job.input_bytes - output_bytes)
        result: dict[str, Any] = {
            "kind": kind,
            "strategy": strategy,
            "contentType": mime,
            "filename": name,
            "outputBytes": output_bytes,
            "savedBytes": saved,
            "savedPercent": round(saved / job.input_bytes * 100, 2) if job.input_bytes else 0,
        }
        if kind in ("video", "audio"):
            result["inputDurationSec"] = 30
            result["outputDurationSec"] = 30
        if kind in ("video", "image"):
            result["inputWidth"] = 1920
            result["outputWidth"] = _WIDTHS.get(job.preset or "web", 1280)
        return result

    def _authenticated(self, request: web.Request) -> bool:
        token = self._state.config.media_token
        return token is None or request.headers.get("Authorization") == f"Bearer {token}"

    @staticmethod
    def _unauthorized() -> web.Response:
        return _error(401, "unauthorized", "Missing or invalid bearer token")

    @staticmethod
    def _fault_response(status: int) -> web.Response:
        return _error(status, _FAULT_CODES.get(status, "internal-error"), f"HTTP {status}")

    def _guard(self, request: web.Request, job: FakeJob | None) -> FakeJob | web.Response:
        if not self._authenticated(request):
            return self._unauthorized()
        if job is None or job.deleted:
            return _error(404, "not-found", "Job ID does not exist")
        return job

    async def _submit(self, request: web.Request) -> web.Response:
        if not self._authenticated(request):
            return self._unauthorized()
        try:
            form = await read_form(request)
        except FormError as exc:
            return _error(400, "invalid-input", str(exc))
        upload = form.files.get("media")
        if upload is None:
            return _error(400, "invalid-input", "Missing or non-file media field")
        if upload.size == 0:
            return _error(400, "invalid-input", "The media file is empty")
        preset = form.fields.get("preset") or "web"
        if not _PRESET.fullmatch(preset):
            return _error(400, "invalid-input", f"Unknown preset {preset!r}")
        callback = form.fields.get("callbackUrl") or None
        if callback is not None and not callback_url_is_valid(callback):
            return _error(400, "invalid-input", "callbackUrl must be an absolute http(s) URL")
        job = self._state.new_job(
            "media",
            file_name=_formats.base_name(upload.file_name),
            input_bytes=upload.size,
            preset=preset,
            callback_url=callback,
        )
        body = {"jobId": job.id, "status": "pending", "createdAt": int(job.created_wall * 1000)}
        return json_response(body, 202)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find("media", request.match_info["job_id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            body = self.status_payload(found, now)
            if complete and found.terminal_seen_at is None and body["status"] in ("done", "failed"):
                found.terminal_seen_at = now
            return json_response(body)

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find("media", request.match_info["job_id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now) is not JobPhase.SUCCEEDED:
                return _error(409, "not-ready", "Job is not done")
            if output_expired(found, now, self._state.config.output_ttl):
                return _error(410, "expired", "The output has expired")
            _kind, _strategy, mime, name = self._output(found)
            data = file_bytes(found, self._state.config.output_size)
            return web.Response(
                body=served(found, data),
                headers={
                    "Content-Type": mime,
                    "Content-Disposition": content_disposition(name),
                    "Cache-Control": "no-store",
                },
            )

        return await answer_job_request(request, self._state, job, self._fault_response, respond)
