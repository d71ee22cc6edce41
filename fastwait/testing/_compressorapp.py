"""compressor.app long polling, as seed 003 specifies it.

``GET /1.0/jobs/{id}`` answers enqueued/processing/completed/failed in the seed's exact shapes;
the completed ``url`` points back at this fake (``/{unix_ts}/{id}/output.{ext}``) and serves
bytes whose sha1 is the published ``output.sha1``. Where the seed is silent:

- There is no submit endpoint (uploads are not in the seeds): jobs come from ``create_job``.
- Errors use ``{"success": false, "message": ...}`` like the seed's failed job; a missing or
  wrong key is 401 (with ``WWW-Authenticate``), an unknown job (or another owner's) 404
  ``"Job not found"``.
- The output url requires the same auth as the API; it is 404 until the job completed and 410
  once its output expired. ``input.sha1`` is a stable stand-in (the fake keeps no input bytes).
- ``Retry-After`` (when configured) is sent on status answers that are not terminal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Final

from aiohttp import web

from fastwait.testing import _formats
from fastwait.testing._http import answer_job_request, format_seconds, json_response
from fastwait.testing._jobs import (
    FakeJob,
    JobPhase,
    output_expired,
    phase_at,
    with_terminal_fields,
)
from fastwait.testing._outputs import content_disposition, file_bytes, served
from fastwait.testing._state import FakeState

__all__ = ["CompressorAppApi"]

_STATUS: Final = {
    JobPhase.QUEUED: "enqueued",
    JobPhase.RUNNING: "processing",
    JobPhase.SUCCEEDED: "completed",
    JobPhase.FAILED: "failed",
    JobPhase.CANCELED: "failed",
}
_FAULT_MESSAGES: Final = {429: "Too many requests", 503: "Service unavailable"}


def _describe(ext: str) -> dict[str, str]:
    known = _formats.lookup(ext)
    if known is None:
        return {"type": "file", "format": ext.lower(), "mime": "application/octet-stream"}
    return {"type": known.kind, "format": known.ext, "mime": known.mime}


def _basic_login(credentials: str) -> str | None:
    """The username of HTTP Basic credentials (the API key; the password is ignored)."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except binascii.Error:
        return None
    login, colon, _ = decoded.decode("utf-8", errors="replace").partition(":")
    return login if colon else None


class CompressorAppApi:
    """The compressor.app routes over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/1.0/jobs/{job_id}", self._status)
        app.router.add_get(r"/{stamp:\d+}/{job_id}/{name}", self._output)

    def status_payload(self, job: FakeJob, now: float) -> dict[str, Any]:
        """The status body of ``job`` at ``now`` (also the body of its webhook)."""
        return with_terminal_fields(job, now, self._payload(job, now))

    def _payload(self, job: FakeJob, now: float) -> dict[str, Any]:
        phase = phase_at(job, now)
        status = _STATUS[phase]
        if phase is JobPhase.FAILED or phase is JobPhase.CANCELED:
            message = "Processing failed: the file could not be compressed"
            return {"success": False, "id": job.id, "status": status, "message": message}
        if phase is not JobPhase.SUCCEEDED:
            return {"id": job.id, "status": status}
        input_name = _formats.base_name(job.file_name)
        input_ext = _formats.split_name(input_name)[1]
        output_ext = self._output_ext(job)
        stamp = int(job.created_wall + (job.completes_at - job.submitted_at))
        output_bytes = file_bytes(job, self._state.config.output_size)
        return {
            "id": job.id,
            "status": status,
            "url": f"{self._state.url}/{stamp}/{job.id}/output.{output_ext}",
            "input": {
                "name": input_name,
                **_describe(input_ext),
                "size": job.input_bytes,
                "sha1": hashlib.sha1(f"input:{job.id}".encode()).hexdigest(),
            },
            "output": {
                "name": job.output_file_name or f"output.{output_ext}",
                **_describe(output_ext),
                "size": len(output_bytes),
                "sha1": hashlib.sha1(output_bytes).hexdigest(),
            },
        }

    @staticmethod
    def _output_ext(job: FakeJob) -> str:
        raw = job.target_format or _formats.split_name(job.file_name)[1] or "bin"
        known = _formats.lookup(raw)
        return known.ext if known else raw.lower()

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return json_response({"success": False, "message": message}, status, headers)

    def _fault_response(self, status: int) -> web.Response:
        return self._error(status, _FAULT_MESSAGES.get(status, f"Server error ({status})"))

    def _authenticated(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            return credentials.strip() == self._state.config.api_key
        if scheme.lower() == "basic":
            return _basic_login(credentials) == self._state.config.api_key
        return False

    def _guard(self, request: web.Request, job: FakeJob | None) -> FakeJob | web.Response:
        if not self._authenticated(request):
            return self._error(
                401,
                "Unauthorized: provide your API key with Basic or Bearer auth",
                {"WWW-Authenticate": 'Basic realm="compressor.app"'},
            )
        if job is None or job.deleted or job.owner is not None:
            return self._error(404, "Job not found")
        return job

    async def _status(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find("compressorapp", request.match_info["job_id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            body = self.status_payload(found, now)
            terminal = body["status"] in ("completed", "failed")
            if complete and terminal and found.terminal_seen_at is None:
                found.terminal_seen_at = now
            retry_after = self._state.config.compressorapp_retry_after
            headers = (
                {"Retry-After": format_seconds(retry_after)}
                if retry_after is not None and not terminal
                else None
            )
            return json_response(body, headers=headers)

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _output(self, request: web.Request) -> web.StreamResponse:
        job = self._state.find("compressorapp", request.match_info["job_id"])

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now) is not JobPhase.SUCCEEDED:
                return self._error(404, "Output not found")
            if output_expired(found, now, self._state.config.output_ttl):
                return self._error(410, "Output expired")
            ext = self._output_ext(found)
            data = file_bytes(found, self._state.config.output_size)
            return web.Response(
                body=served(found, data),
                headers={
                    "Content-Type": _describe(ext)["mime"],
                    "Content-Disposition": content_disposition(
                        found.output_file_name or f"output.{ext}"
                    ),
                },
            )

        return await answer_job_request(request, self._state, job, self._fault_response, respond)
