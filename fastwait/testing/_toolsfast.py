"""tools.fast compress and convert, as seeds 000-002 specify them.

One :class:`ToolsFastApi` per API (``/compress``, ``/convert``): submission, the job endpoints
(status, download, cancel, delete, and compare for compress) and compress's discovery routes.
Where the seeds are silent the fake does what the real service plausibly does:

- Submissions are never faulted; a missing ``file`` part is 400 ``request.missing_file``, a body
  that is not multipart 400 ``request.invalid_form``, a bad ``callbackUrl`` 400
  ``request.invalid_callback_url``, and a missing or impossible convert ``targetFormat`` 400
  ``request.invalid_target_format``.
- ``queue.position``/``totalQueued`` count the pool's jobs that have not started yet;
  ``queue.estimate`` is the wait until this job starts, as ``"< Ns"``.
- Convert's accepted ``format`` is the target format; its status omits ``format`` and the
  compression ratios, like the seed 001 example.
- ``progress.phase`` is ``analyzing``, ``compressing``/``converting`` then ``finalizing`` while
  running, null otherwise; failed and canceled jobs keep the percent they reached.
- ``metrics.creditCost`` is 1, refunded to 0 for failed and canceled jobs; ``outputBytes`` is
  the size of the download (the ZIP for multi-output jobs), 0 until the job succeeded.
- Downloading (or comparing) a failed or canceled job is 409 like a running one: there is no
  output to wait for, and the status says why.
"""

from __future__ import annotations

import base64
import collections
import heapq
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, Literal

import attrs
from aiohttp import web

from fastwait.testing import _catalog, _formats
from fastwait.testing._http import (
    Form,
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
    reported_percent,
    with_terminal_fields,
    work_done,
)
from fastwait.testing._outputs import content_disposition, file_bytes, served, zip_archive
from fastwait.testing._state import FakeState

__all__ = ["ToolsFastApi"]

_STATUS: Final = {
    JobPhase.QUEUED: "Queued",
    JobPhase.RUNNING: "Running",
    JobPhase.SUCCEEDED: "Succeeded",
    JobPhase.FAILED: "Failed",
    JobPhase.CANCELED: "Canceled",
}
_TERMINAL_STATUSES: Final = frozenset({"Succeeded", "Failed", "Canceled"})
_ESTIMATE_BUCKETS: Final = (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_FAULT_CODES: Final = {429: "rate_limit.exceeded", 503: "service.unavailable"}
_STATS_WINDOW: Final = 128


@attrs.frozen
class _Output:
    """What a succeeded job produced: the download's name and type, and its pages if zipped."""

    file_name: str
    content_type: str
    pages: tuple[str, ...] = ()

    @property
    def file_count(self) -> int:
        return len(self.pages) or 1


def _iso(unix: float) -> str:
    stamp = datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _estimate(wait: float) -> str:
    for bucket in _ESTIMATE_BUCKETS:
        if wait < bucket:
            return f"< {bucket}s"
    return f"> {_ESTIMATE_BUCKETS[-1]}s"


class ToolsFastApi:
    """The routes of one tools.fast API (``compress`` or ``convert``) over the shared state."""

    def __init__(self, state: FakeState, provider: Literal["compress", "convert"]) -> None:
        self._state = state
        self._provider: Literal["compress", "convert"] = provider
        self._compress = provider == "compress"
        self._noun = "compressor" if self._compress else "converter"
        self._pending_starts: dict[str, list[float]] = {}
        self._recent_inputs: collections.deque[int] = collections.deque(maxlen=_STATS_WINDOW)
        self._zip_sizes: dict[str, int] = {}

    def add_routes(self, app: web.Application) -> None:
        root = f"/{self._provider}"
        job = f"{root}/job/{{job_id}}"
        app.router.add_post(root, self._submit)
        app.router.add_get(job, self._status)
        app.router.add_get(f"{job}/download", self._download)
        app.router.add_post(f"{job}/cancel", self._cancel)
        app.router.add_delete(job, self._delete)
        if self._compress:
            app.router.add_get(f"{job}/compare", self._compare)
            app.router.add_get(root, self._static(_catalog.legacy_compressors_payload))
            app.router.add_get(f"{root}/compressors", self._static(_catalog.compressors_payload))
            app.router.add_get(
                f"{root}/entitlements/me", self._static(_catalog.entitlements_payload)
            )

    # -- payloads -------------------------------------------------------------------------

    def status_payload(self, job: FakeJob, now: float, *, noisy: bool = True) -> dict[str, Any]:
        """The JobStatusResponse of ``job`` at ``now`` (also the body of its webhook)."""
        return with_terminal_fields(job, now, self._payload(job, now, noisy=noisy))

    def _payload(self, job: FakeJob, now: float, *, noisy: bool) -> dict[str, Any]:
        phase = phase_at(job, now)
        body: dict[str, Any] = {"id": job.id, "status": _STATUS[phase]}
        if self._compress:
            body["format"] = self._source_ext(job)
        body["progress"] = self._progress(job, phase, now, noisy=noisy)
        body["metrics"] = self._metrics(job, phase)
        body["error"] = (
            {
                "code": "processing.failed",
                "detail": f"The {self._noun} could not process this file.",
            }
            if phase is JobPhase.FAILED
            else None
        )
        body["output"] = None
        if phase is JobPhase.SUCCEEDED and not output_expired(
            job, now, self._state.config.output_ttl
        ):
            output = self._describe_output(job)
            body["output"] = {
                "fileName": output.file_name,
                "contentType": output.content_type,
                "fileCount": output.file_count,
            }
        return body

    def _progress(
        self, job: FakeJob, phase: JobPhase, now: float, *, noisy: bool
    ) -> dict[str, Any]:
        if phase is JobPhase.QUEUED:
            return {"percent": 0, "phase": None}
        if phase is JobPhase.SUCCEEDED:
            return {"percent": 100, "phase": None}
        if phase is not JobPhase.RUNNING:
            return {"percent": round(reported_percent(job, now, None), 1), "phase": None}
        reading: int | None = None
        if noisy:
            reading = job.readings
            job.readings += 1
        done = work_done(job, now)
        if done < 0.1:
            step = "analyzing"
        elif done < 0.9:
            step = "compressing" if self._compress else "converting"
        else:
            step = "finalizing"
        return {"percent": round(reported_percent(job, now, reading), 1), "phase": step}

    def _metrics(self, job: FakeJob, phase: JobPhase) -> dict[str, Any]:
        succeeded = phase is JobPhase.SUCCEEDED
        output_bytes = self._output_size(job) if succeeded else 0
        metrics: dict[str, Any] = {
            "inputBytes": job.input_bytes,
            "outputBytes": output_bytes,
            "creditCost": 0 if phase in (JobPhase.FAILED, JobPhase.CANCELED) else 1,
        }
        if self._compress:
            ratio = output_bytes / job.input_bytes if succeeded and job.input_bytes else None
            metrics["compressionRatio"] = None if ratio is None else round(ratio, 2)
            metrics["savingsPercent"] = None if ratio is None else round((1 - ratio) * 100, 1)
        return metrics

    def _source_ext(self, job: FakeJob) -> str:
        raw = _formats.split_name(job.file_name)[1]
        source = _formats.lookup(raw)
        return source.ext if source else raw.lower()

    def _describe_output(self, job: FakeJob) -> _Output:
        stem, raw = _formats.split_name(job.file_name)
        if self._compress:
            source = _formats.lookup(raw)
            ext = source.ext if source else raw.lower()
            mime = source.mime if source else "application/octet-stream"
            output = _Output(f"{stem}-compressed.{ext}", mime)
        else:
            target_raw = (job.target_format or "").lower().lstrip(".")
            target = _formats.lookup(target_raw)
            ext = target.ext if target else target_raw
            if job.outputs > 1:
                source = _formats.lookup(raw)
                conversion = f"{source.ext if source else raw.lower()}-to-{ext}"
                output = _Output(
                    f"convert.fast-{conversion}-{stem}-{job.outputs}-outputs.zip",
                    "application/zip",
                    tuple(f"{stem}-{page}.{ext}" for page in range(1, job.outputs + 1)),
                )
            else:
                mime = target.mime if target else "application/octet-stream"
                output = _Output(f"{stem}.{ext}", mime)
        if job.output_file_name is not None:
            output = attrs.evolve(output, file_name=job.output_file_name)
        return output

    def _output_bytes(self, job: FakeJob, output: _Output) -> bytes:
        size = self._state.config.output_size
        if not output.pages:
            return file_bytes(job, size)
        return zip_archive(
            (name, file_bytes(job, size, page)) for page, name in enumerate(output.pages, 1)
        )

    def _output_size(self, job: FakeJob) -> int:
        if job.outputs <= 1 or self._compress:
            return self._state.config.output_size
        if (size := self._zip_sizes.get(job.id)) is None:
            size = self._zip_sizes[job.id] = len(
                self._output_bytes(job, self._describe_output(job))
            )
        return size

    # -- errors and guards ----------------------------------------------------------------

    @staticmethod
    def _error(
        status: int, code: str, detail: str | None, headers: dict[str, str] | None = None
    ) -> web.Response:
        return json_response({"error": code, "detail": detail}, status, headers)

    def _fault_response(self, status: int) -> web.Response:
        code = _FAULT_CODES.get(status, "server.error")
        return self._error(status, code, f"Injected fault: HTTP {status}.")

    def _authenticated(self, request: web.Request) -> bool:
        return request.headers.get("X-Fast-Api-Key") == self._state.config.api_key

    def _unauthorized(self) -> web.Response:
        return self._error(
            401, "api_key.invalid_or_ip_not_allowed", "The API key is invalid or not allowed."
        )

    def _find(self, request: web.Request) -> FakeJob | None:
        return self._state.find(self._provider, request.match_info["job_id"])

    def _guard(self, request: web.Request, job: FakeJob | None) -> FakeJob | web.Response:
        """The job if the caller may see it, else the 401/404/403 the API answers."""
        if not self._authenticated(request):
            return self._unauthorized()
        if job is None or job.deleted:
            return self._error(404, "jobs.not_found", None)
        if job.owner is not None:
            return self._error(403, "jobs.forbidden", "The job belongs to another user.")
        return job

    def _static(
        self, payload: Callable[[], dict[str, Any]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if not self._authenticated(request):
                return self._unauthorized()
            return json_response(payload())

        return handler

    # -- submission -----------------------------------------------------------------------

    async def _submit(self, request: web.Request) -> web.Response:
        upload_started = time.time()
        if not self._authenticated(request):
            return self._unauthorized()
        try:
            form = await read_form(request)
        except FormError as exc:
            return self._error(400, "request.invalid_form", str(exc))
        upload_finished = time.time()
        checked = self._validate(form)
        if isinstance(checked, web.Response):
            return checked
        source, target = checked
        upload = form.files["file"]
        job = self._state.new_job(
            self._provider,
            file_name=_formats.base_name(upload.file_name),
            input_bytes=upload.size,
            target_format=target.ext if target else None,
            callback_url=form.fields.get("callbackUrl") or None,
        )
        queued_wall = time.time()
        body = {
            "id": job.id,
            "status": "Queued",
            "fileName": _formats.split_name(upload.file_name)[0],
            "format": target.ext if target else source.ext,
            "stats": self._stats(queued_wall),
            "timeline": {
                "uploadStartedAt": _iso(upload_started),
                "uploadFinishedAt": _iso(upload_finished),
                "queuedAt": _iso(queued_wall),
            },
            "queue": self._enqueue(job, source),
            "metrics": {
                "inputBytes": upload.size,
                "uploadMs": round((upload_finished - upload_started) * 1000),
                "processingMs": 0,
                "totalMs": round((queued_wall - upload_started) * 1000),
            },
        }
        self._recent_inputs.append(upload.size)
        location = f"/{self._provider}/job/{job.id}"
        return json_response(body, 202, {"Location": location})

    def _validate(
        self, form: Form
    ) -> web.Response | tuple[_formats.FileFormat, _formats.FileFormat | None]:
        """The source (and convert target) format, or the 400 the API answers."""
        upload = form.files.get("file")
        if upload is None:
            return self._error(400, "request.missing_file", "The form has no 'file' part.")
        if upload.size == 0:
            return self._error(400, "request.empty_file", "The uploaded file is empty.")
        raw = _formats.split_name(upload.file_name)[1]
        source = _formats.lookup(raw)
        if source is None or (self._compress and source.ext not in _formats.COMPRESSIBLE):
            return self._error(
                400,
                "request.invalid_extension",
                f"File extension '.{raw.lower()}' is not accepted by this {self._noun}.",
            )
        callback = form.fields.get("callbackUrl")
        if callback and not callback_url_is_valid(callback):
            return self._error(
                400, "request.invalid_callback_url", "callbackUrl must be an absolute http(s) URL."
            )
        if self._compress:
            return source, None
        wanted = form.fields.get("targetFormat", "")
        target = _formats.lookup(wanted)
        if target is None or not _formats.conversion_allowed(source, target):
            return self._error(
                400,
                "request.invalid_target_format",
                f"Cannot convert '.{source.ext}' to '{wanted or '(missing)'}'.",
            )
        return source, target

    def _stats(self, now_wall: float) -> dict[str, Any]:
        sizes = self._recent_inputs
        return {
            "inputP50Bytes": round(statistics.median(sizes)) if sizes else None,
            "inputMeanBytes": round(statistics.fmean(sizes)) if sizes else None,
            "sampleCount": len(sizes),
            "asOfUtc": _iso(now_wall),
            "validUntilUtc": _iso(now_wall + 300),
        }

    def _enqueue(self, job: FakeJob, source: _formats.FileFormat) -> dict[str, Any]:
        pool, weight = _catalog.pool_for(source)
        starts = self._pending_starts.setdefault(pool, [])
        now = self._state.clock()
        while starts and starts[0] <= now:
            heapq.heappop(starts)
        heapq.heappush(starts, job.started_at)
        waiting = len(starts)
        return {
            "pool": pool,
            "position": waiting,
            "weight": weight,
            "totalQueued": waiting,
            "estimate": _estimate(max(0.0, job.started_at - now)),
        }

    # -- job endpoints --------------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.StreamResponse:
        job = self._find(request)

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            body = self.status_payload(found, now)
            terminal = body["status"] in _TERMINAL_STATUSES
            if complete and terminal and found.terminal_seen_at is None:
                found.terminal_seen_at = now
            return json_response(body)

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        job = self._find(request)

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            phase = phase_at(found, now)
            if phase is not JobPhase.SUCCEEDED:
                detail = (
                    "Job is still processing or waiting to start."
                    if not phase.is_terminal
                    else f"Job is {phase.value}; it has no output."
                )
                return self._error(409, "jobs.not_ready", detail)
            if output_expired(found, now, self._state.config.output_ttl):
                return self._error(410, "jobs.expired", "Output artifacts have been cleaned up.")
            output = self._describe_output(found)
            return web.Response(
                body=served(found, self._output_bytes(found, output)),
                headers={
                    "Content-Type": output.content_type,
                    "Content-Disposition": content_disposition(output.file_name),
                },
            )

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        job = self._find(request)

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now).is_terminal:
                return self._error(
                    409, "jobs.not_cancellable", "Job already completed, failed or was canceled."
                )
            found.canceled = True
            found.canceled_at = now
            if found.callback_url is not None:
                self._state.schedule_webhook(found)
            return web.Response(
                status=202, headers={"Location": f"/{self._provider}/job/{found.id}"}
            )

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        job = self._find(request)

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            if not phase_at(found, self._state.clock()).is_terminal:
                return self._error(
                    409, "jobs.not_deletable", "Cannot delete queued/running jobs - cancel first."
                )
            found.deleted = True
            return web.Response(status=204)

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    async def _compare(self, request: web.Request) -> web.StreamResponse:
        job = self._find(request)

        async def respond(complete: bool) -> web.Response:
            found = self._guard(request, job)
            if isinstance(found, web.Response):
                return found
            now = self._state.clock()
            if phase_at(found, now) is not JobPhase.SUCCEEDED:
                return self._error(409, "compare.not_ready", "Job has not succeeded yet.")
            if output_expired(found, now, self._state.config.output_ttl):
                return self._error(410, "compare.expired", "Output artifacts have been cleaned up.")
            return json_response(self._compare_payload(found))

        return await answer_job_request(request, self._state, job, self._fault_response, respond)

    def _compare_payload(self, job: FakeJob) -> dict[str, Any]:
        """CompareResponse; the previews are placeholder bytes, not decodable images."""
        preview = 256

        def encode(page: int) -> str:
            return base64.b64encode(file_bytes(job, preview, page)).decode("ascii")

        return {
            "beforeImage": encode(-1),
            "afterImage": encode(-2),
            "originalBytes": job.input_bytes,
            "compressedBytes": self._output_size(job),
            "beforeMimeType": "image/webp",
            "afterMimeType": "image/webp",
            "previewWidth": 800,
            "previewHeight": 600,
            "afterPreviewWidth": 800,
            "afterPreviewHeight": 600,
            "inputWidth": 4032,
            "inputHeight": 3024,
            "outputWidth": 4032,
            "outputHeight": 3024,
            "wasResized": False,
        }
