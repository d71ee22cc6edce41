"""The self-hosted media optimizer (``/api/media/jobs``): multipart submit, poll, download.

Everything media-specific lives here: the ``media`` file field and ``preset``, the statuses
``pending``/``processing``/``done``/``failed``, ``downloadUrl`` and the error codes
``invalid-input``, ``not-found`` and ``not-ready``.

Where the seed documents are silent, this module chooses:

* Authentication is optional: a ``token`` is sent as ``Authorization: Bearer``; none is sent
  without one (a self-hosted service often sits on a private network).
* ``preset`` defaults to ``"web"`` (the server's documented default); other options are sent
  verbatim as text fields; a callback URL is sent as the field ``callbackUrl``.
* A relative ``downloadUrl`` is resolved against ``base_url`` by RFC 3986 rules (a path starting
  with ``/`` replaces ``base_url``'s path); a pre-signed URL on another origin gets no token.
* Error envelopes are read in both forms servers send: ``{"error": {"code", "message"}}`` and
  ``{"error": "code", "message": ...}``.
* ``metrics`` holds ``input_bytes`` and the numeric ``result`` fields in snake_case
  (``output_bytes``, ``saved_bytes``, ``saved_percent``, durations, widths).
* Cancel and delete have no documented endpoint: :class:`UnsupportedOperationError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from fastwait._models import EMPTY_MAPPING, JobAccepted, JobState, JobStatus, OutputInfo
from fastwait.exceptions import (
    ApiError,
    BadResponseError,
    ConfigurationError,
    UnsupportedOperationError,
)
from fastwait.providers._base import ApiRequest, Provider
from fastwait.providers._converter import structure
from fastwait.providers._errors import api_error, decode_json, redact
from fastwait.providers._urls import (
    require_base_url,
    require_http_url,
    resolve_download_url,
    same_origin,
)
from fastwait.providers._validation import job_state, payload_job_id, require_job_id, require_secret
from fastwait.providers._wire import (
    MediaErrorResponse,
    MediaFlatErrorResponse,
    MediaJobAccepted,
    MediaJobStatus,
)

__all__ = ["DEFAULT_PRESET", "MediaJobs"]

DEFAULT_PRESET = "web"

_W = TypeVar("_W")

_STATES: Mapping[str, JobState] = {
    "pending": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "done": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}

_NOT_READY_CODES = frozenset({"not-ready"})


class MediaJobs(Provider):
    """A media optimizer at ``base_url`` (there is no public default), optionally token-protected.

    The token is never shown in reprs or errors.
    """

    name: ClassVar[str] = "media"
    signs_webhooks: ClassVar[bool] = False
    __slots__ = ("_token", "base_url")

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = require_base_url(base_url)
        self._token = None if token is None else require_secret(token, "token")

    @classmethod
    def from_settings(cls, api_key: str | None, base_url: str | None) -> Self:
        """``api_key`` is the optional token; ``base_url`` is required (see
        :meth:`Provider.from_settings`): the optimizer is self-hosted, with no public address.
        """
        if not base_url:
            raise ConfigurationError("media needs a base URL: it has no public address")
        return cls(base_url, token=api_key or None)

    def __repr__(self) -> str:
        return f"MediaJobs(base_url={self.base_url!r}, token={'***' if self._token else None})"

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    # --- requests -------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _jobs_url(self) -> str:
        return f"{self.base_url}/api/media/jobs"

    def status_request(self, job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"{self._jobs_url()}/{require_job_id(job_id)}", self._headers())

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """``POST /api/media/jobs``: the file as ``media``, ``preset`` (default ``web``)."""
        fields = {"preset": DEFAULT_PRESET, **options}
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in fields.items()):
            raise ConfigurationError("submit options must map strings to strings")
        if callback_url is not None:
            if "callbackUrl" in fields:
                raise ConfigurationError("give the callback URL once, not also as an option")
            fields["callbackUrl"] = require_http_url(callback_url, "callback_url")
        return ApiRequest("POST", self._jobs_url(), self._headers(), fields, file_field="media")

    def download_request(self, job_id: str, status: JobStatus | None) -> ApiRequest:
        default = f"{self._jobs_url()}/{require_job_id(job_id)}/download"
        if status is not None and status.download_url and status.id == job_id:
            url = status.download_url
            return ApiRequest(
                "GET", url, self._headers() if same_origin(url, self.base_url) else {}
            )
        return ApiRequest("GET", default, self._headers())

    def cancel_request(self, job_id: str) -> ApiRequest:
        raise UnsupportedOperationError("the media optimizer documents no way to cancel a job")

    def delete_request(self, job_id: str) -> ApiRequest:
        raise UnsupportedOperationError("the media optimizer documents no way to delete a job")

    # --- translation ----------------------------------------------------------------------
    def _structure(self, payload: Any, cls: type[_W]) -> _W:
        return structure(payload, cls, source=self.name, secrets=self.secrets())

    def _state(self, status: str) -> JobState:
        return job_state(_STATES, status, source=self.name, secrets=self.secrets())

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        wire = self._structure(payload, MediaJobStatus)
        result = wire.result
        metrics: dict[str, Any] = {"input_bytes": wire.input_bytes}
        if result is not None:
            metrics |= {
                "output_bytes": result.output_bytes,
                "saved_bytes": result.saved_bytes,
                "saved_percent": result.saved_percent,
                "input_duration_sec": result.input_duration_sec,
                "output_duration_sec": result.output_duration_sec,
                "input_width": result.input_width,
                "output_width": result.output_width,
            }
        download_url = None
        if wire.download_url is not None:
            download_url = resolve_download_url(
                self.base_url, wire.download_url, source=self.name, field="$.downloadUrl"
            )
        return JobStatus(
            id=payload_job_id(wire.job_id, source=self.name, field="$.jobId"),
            provider=self.name,
            state=self._state(wire.status),
            metrics={k: v for k, v in metrics.items() if v is not None},
            output=None
            if result is None
            else OutputInfo(
                file_name=result.filename,
                content_type=result.content_type,
                size=result.output_bytes,
            ),
            error_code=redact(wire.error.code, self.secrets()) if wire.error else None,
            error_detail=redact(wire.error.message, self.secrets()) if wire.error else None,
            download_url=download_url,
            raw=payload if keep_raw else EMPTY_MAPPING,
        )

    def parse_accepted(self, payload: Any) -> JobAccepted:
        """``{"jobId", "status": "pending", "createdAt": <epoch ms>}``."""
        wire = self._structure(payload, MediaJobAccepted)
        try:
            created_at = datetime.fromtimestamp(wire.created_at / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise BadResponseError(
                f"{self.name}: expected epoch milliseconds @ $.createdAt"
            ) from None
        return JobAccepted(
            id=payload_job_id(wire.job_id, source=self.name, field="$.jobId"),
            provider=self.name,
            state=self._state(wire.status),
            created_at=created_at,
            raw=payload,
        )

    def parse_error(
        self,
        http_status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        now: datetime | None = None,
    ) -> ApiError:
        """Read either error envelope; a 409 ``not-ready`` is a :class:`NotReadyError`."""
        code = detail = None
        decoded = decode_json(body)
        if isinstance(decoded, Mapping):
            try:
                nested = structure(decoded, MediaErrorResponse).error
                code, detail = nested.code, nested.message
            except BadResponseError:
                with contextlib.suppress(BadResponseError):
                    flat = structure(decoded, MediaFlatErrorResponse)
                    code, detail = flat.error, flat.message
        return api_error(
            http_status,
            code,
            detail,
            headers,
            not_ready_codes=_NOT_READY_CODES,
            secrets=self.secrets(),
            now=now,
        )
