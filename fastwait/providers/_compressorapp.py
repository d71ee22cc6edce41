"""compressor.app long polling (``api.compressor.app/1.0``): await a job by its id.

Everything compressor.app-specific lives here: Basic or Bearer authentication, the statuses
``enqueued``/``processing``/``completed``/``failed``, the output ``url`` with its sha1, and the
``{"success": false, "message": ...}`` error envelope.

Where the seed documents are silent, this module chooses:

* Jobs are submitted through compressor.app's own upload/fetch requests, which the documents
  leave out, so :meth:`CompressorApp.submit_request` (like cancel and delete, which have no
  documented endpoint) raises :class:`UnsupportedOperationError`: fastwait awaits jobs by id.
* Basic authentication sends the API key as the user name with an empty password; Bearer sends
  it as the token. The key must not contain ``:`` under Basic (RFC 7617 user names cannot).
* The documents say statuses other than ``completed`` and ``failed`` are intermediate ("such as
  enqueued or processing"), so an unlisted status string is read as RUNNING rather than as a
  bad response; ``completed`` without ``url`` is a bad response (the output cannot be fetched).
* A failed job's ``message`` becomes ``error_detail``; ``error_code`` stays None (no code is
  sent). ``metrics`` holds ``input_bytes``/``output_bytes`` from the ``size`` of each file.
* The output ``url`` is on the API's own host: downloads from it carry the credentials, as the
  origin check in :meth:`CompressorApp.download_request` allows for same-origin URLs only.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

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
from fastwait.providers._urls import require_base_url, resolve_download_url, same_origin
from fastwait.providers._validation import payload_job_id, require_job_id, require_secret
from fastwait.providers._wire import CompressorAppErrorResponse, CompressorAppJob

__all__ = ["DEFAULT_BASE_URL", "CompressorApp"]

DEFAULT_BASE_URL = "https://api.compressor.app/1.0"

_W = TypeVar("_W")

_STATES: Mapping[str, JobState] = {
    "enqueued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}


class CompressorApp(Provider):
    """compressor.app jobs, awaited by id (``GET {base}/jobs/{id}``).

    ``auth`` picks HTTP Basic (API key as user name, empty password) or Bearer. The key is
    never shown in reprs or errors.
    """

    name: ClassVar[str] = "compressorapp"
    __slots__ = ("_api_key", "_authorization", "auth", "base_url")

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        auth: Literal["basic", "bearer"] = "basic",
    ) -> None:
        self._api_key = require_secret(api_key, "api_key")
        self.base_url = require_base_url(base_url)
        if auth == "basic":
            if ":" in api_key:
                raise ConfigurationError("api_key must not contain ':' with Basic auth")
            token = base64.b64encode(f"{api_key}:".encode()).decode("ascii")
            self._authorization = f"Basic {token}"
        elif auth == "bearer":
            self._authorization = f"Bearer {api_key}"
        else:
            raise ConfigurationError("auth must be 'basic' or 'bearer'")
        self.auth = auth

    def __repr__(self) -> str:
        return f"CompressorApp(base_url={self.base_url!r}, auth={self.auth!r})"

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key, self._authorization.split(" ", 1)[1])

    # --- requests -------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization}

    def status_request(self, job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"{self.base_url}/jobs/{require_job_id(job_id)}", self._headers())

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        raise UnsupportedOperationError(
            "compressor.app jobs are submitted with its own upload request; await them by id"
        )

    def download_request(self, job_id: str, status: JobStatus | None) -> ApiRequest:
        """The output ``url`` of a completed status; there is no download endpoint by id."""
        require_job_id(job_id)
        if status is None or not status.download_url or status.id != job_id:
            raise UnsupportedOperationError(
                "compressor.app publishes the output URL only in a completed job's status"
            )
        url = status.download_url
        return ApiRequest("GET", url, self._headers() if same_origin(url, self.base_url) else {})

    def cancel_request(self, job_id: str) -> ApiRequest:
        raise UnsupportedOperationError("compressor.app documents no way to cancel a job")

    def delete_request(self, job_id: str) -> ApiRequest:
        raise UnsupportedOperationError("compressor.app documents no way to delete a job")

    # --- translation ----------------------------------------------------------------------
    def _structure(self, payload: Any, cls: type[_W]) -> _W:
        return structure(payload, cls, source=self.name, secrets=self.secrets())

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        wire = self._structure(payload, CompressorAppJob)
        state = _STATES.get(wire.status.casefold(), JobState.RUNNING)
        download_url = None
        if wire.url is not None:
            download_url = resolve_download_url(
                self.base_url, wire.url, source=self.name, field="$.url"
            )
        elif state is JobState.SUCCEEDED:
            raise BadResponseError(f"{self.name}: a completed job needs its output url @ $.url")
        out = wire.output
        sizes = {
            "input_bytes": wire.input.size if wire.input else None,
            "output_bytes": out.size if out else None,
        }
        return JobStatus(
            id=payload_job_id(wire.id, source=self.name, field="$.id"),
            provider=self.name,
            state=state,
            metrics={k: v for k, v in sizes.items() if v is not None},
            output=None
            if out is None
            else OutputInfo(
                file_name=out.name, content_type=out.mime, size=out.size, sha1=out.sha1
            ),
            error_detail=redact(wire.message, self.secrets()) if state is JobState.FAILED else None,
            download_url=download_url,
            raw=payload if keep_raw else EMPTY_MAPPING,
        )

    def parse_accepted(self, payload: Any) -> JobAccepted:
        """The acknowledgement ``{"id", "status": "enqueued"}`` of a job submitted elsewhere."""
        wire = self._structure(payload, CompressorAppJob)
        return JobAccepted(
            id=payload_job_id(wire.id, source=self.name, field="$.id"),
            provider=self.name,
            state=_STATES.get(wire.status.casefold(), JobState.RUNNING),
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
        """Read ``{"success": false, "message": ...}``; the class follows the status alone."""
        detail = None
        decoded = decode_json(body)
        if isinstance(decoded, Mapping):
            with contextlib.suppress(BadResponseError):
                detail = structure(decoded, CompressorAppErrorResponse).message
        return api_error(http_status, None, detail, headers, secrets=self.secrets(), now=now)
