"""tools.fast compress and convert (``api.tools.fast``): one job API under two path prefixes.

Everything tools.fast-specific lives here: the ``X-Fast-Api-Key`` header, the five statuses,
the ``{"error": code, "detail": ...}`` envelope and its codes, the queue estimate format.

Where the seed documents are silent, this module chooses:

* Submission is ``POST {base}/compress`` (or ``/convert``) with the file in the multipart field
  ``file``; caller options are sent verbatim as text fields; a callback URL is sent as the field
  ``callbackUrl`` (camelCase like every tools.fast name; the documents specify no webhook field).
* Convert requires the ``targetFormat`` option (a :class:`ConfigurationError` without it).
* Status names are matched case-insensitively.
* ``JobStatus.metrics`` and ``JobAccepted.stats`` use snake_case keys (``input_bytes``,
  ``credit_cost``, ...), the vocabulary shared with the other providers; fields the API
  omitted or sent as null are left out. The payload as sent stays in ``raw``.
* ``progress.percent`` is clamped to 0-100 (a rounding overshoot must not fail a wait).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs

from fastwait._models import (
    EMPTY_MAPPING,
    JobAccepted,
    JobState,
    JobStatus,
    OutputInfo,
    QueueInfo,
)
from fastwait.exceptions import ApiError, BadResponseError, ConfigurationError
from fastwait.providers._base import ApiCall, ApiRequest, Provider
from fastwait.providers._converter import structure
from fastwait.providers._errors import api_error, decode_json, redact
from fastwait.providers._urls import require_base_url, require_http_url, same_origin
from fastwait.providers._validation import (
    is_job_id,
    job_state,
    payload_job_id,
    require_job_id,
    require_secret,
)
from fastwait.providers._wire import (
    CompareResponse,
    EntitlementsResponse,
    ErrorResponse,
    GetCompressorsResponse,
    JobAcceptedResponse,
    JobStatusResponse,
)

__all__ = ["DEFAULT_BASE_URL", "ToolsFastCompress", "ToolsFastConvert", "parse_estimate"]

DEFAULT_BASE_URL = "https://api.tools.fast"

_W = TypeVar("_W")

_STATES: Mapping[str, JobState] = {
    "queued": JobState.QUEUED,
    "running": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "canceled": JobState.CANCELED,
}

_NOT_READY_CODES = frozenset({"jobs.not_ready", "compare.not_ready"})


_ESTIMATE = re.compile(
    r"""\s*(?:<=?|~|about|approx\.?|under|up\s+to|less\s+than)?\s*
    (?P<low>[0-9]+(?:\.[0-9]+)?)
    (?:\s*(?:-|–|to)\s*(?P<high>[0-9]+(?:\.[0-9]+)?))?
    \s*(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_estimate(text: str | None) -> float | None:
    """The queue estimate in seconds, or None when absent or not understood.

    Reads ``"< 5s"`` (5.0), ``"~30s"``, ``"2m"``, ``"1.5 min"``, ``"1-2 min"`` (a range gives
    its upper bound, as ``"< 5s"`` does: an estimate is used to decide when to look first).
    """
    if text is None:
        return None
    match = _ESTIMATE.fullmatch(text)
    if match is None:
        return None
    amount = float(match["high"] or match["low"])
    return amount * _UNIT_SECONDS[match["unit"][0].lower()]


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _number(value: Any) -> float | None:
    """A JSON number as a float, or None for anything else (a bool is not a number)."""
    kind = type(value)
    return float(value) if kind is float or kind is int else None


def _read_plain_status(
    payload: Any, provider: str, keep_raw: bool, api_key: str
) -> JobStatus | None:
    """``JobStatusResponse`` read and translated in one pass, or None to take the full path.

    Every poll and every webhook of tools.fast comes here, and most are plain: JSON's own
    types where the wire model wants them. This reads those straight from the decoded dicts
    (no wire objects), about twice as fast as structuring then translating. Anything it is not
    sure of returns None: :meth:`_ToolsFastJobs.parse_status` then reads the payload through
    the wire model, which also names what is wrong. Both readings are checked to agree
    (``tests/test_providers_status.py``).
    """
    if type(payload) is not dict:
        return None
    get = payload.get
    job_id = get("id")
    name = get("status")
    progress = get("progress")
    metrics = get("metrics")
    if (
        type(job_id) is not str
        or type(name) is not str
        or type(progress) is not dict
        or type(metrics) is not dict
        or not is_job_id(job_id)
    ):
        return None
    state = _STATES.get(name.casefold())
    percent = progress.get("percent")
    if type(percent) is not float:
        if type(percent) is not int:
            return None
        percent = float(percent)
    phase = progress.get("phase")
    input_bytes = metrics.get("inputBytes")
    output_bytes = metrics.get("outputBytes")
    credit_cost = _number(metrics.get("creditCost"))
    fmt = get("format")
    if (
        state is None
        or credit_cost is None
        or type(input_bytes) is not int
        or type(output_bytes) is not int
        or (phase is not None and type(phase) is not str)
        or (fmt is not None and type(fmt) is not str)
    ):
        return None
    values: dict[str, Any] = {
        "input_bytes": input_bytes,
        "output_bytes": output_bytes,
        "credit_cost": credit_cost,
    }
    ratio = metrics.get("compressionRatio")
    if ratio is not None:
        if (ratio := _number(ratio)) is None:
            return None
        values["compression_ratio"] = ratio
    savings = metrics.get("savingsPercent")
    if savings is not None:
        if (savings := _number(savings)) is None:
            return None
        values["savings_percent"] = savings
    code = detail = None
    error = get("error")
    if error is not None:
        if type(error) is not dict:
            return None
        code = error.get("code")
        detail = error.get("detail")
        if type(code) is not str or (detail is not None and type(detail) is not str):
            return None
        # Servers echo keys back in error text; no output may carry one.
        code, detail = redact(code, (api_key,)), redact(detail, (api_key,))
    info = None
    output = get("output")
    if output is not None:
        if type(output) is not dict:
            return None
        file_name = output.get("fileName")
        content_type = output.get("contentType")
        file_count = output.get("fileCount")
        if (
            type(file_name) is not str
            or (content_type is not None and type(content_type) is not str)
            or (file_count is not None and type(file_count) is not int)
        ):
            return None
        info = OutputInfo(file_name, content_type, file_count)
    # Positional, in the fields' order (keywords cost a sixth of this function); the test that
    # compares this reading with the full one catches a field out of place.
    return JobStatus(
        job_id,
        provider,
        state,
        min(100.0, max(0.0, percent)) if math.isfinite(percent) else None,  # progress_percent
        phase,  # progress_phase
        values,  # metrics
        info,  # output
        code,  # error_code
        detail,  # error_detail
        None,  # download_url
        payload if keep_raw else EMPTY_MAPPING,  # raw
    )


class _ToolsFastJobs(Provider):
    """The job endpoints compress and convert share under ``{base}/{name}``."""

    reports_progress: ClassVar[bool] = True
    __slots__ = ("_api_key", "base_url")

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL) -> None:
        self._api_key = require_secret(api_key, "api_key")
        self.base_url = require_base_url(base_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    # --- requests -------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"X-Fast-Api-Key": self._api_key}

    def _job_url(self, job_id: str, suffix: str = "") -> str:
        return f"{self.base_url}/{self.name}/job/{require_job_id(job_id)}{suffix}"

    def _get(self, url: str) -> ApiRequest:
        return ApiRequest("GET", url, self._headers())

    def status_request(self, job_id: str) -> ApiRequest:
        return self._get(self._job_url(job_id))

    def _submit_fields(
        self, options: Mapping[str, str], callback_url: str | None
    ) -> dict[str, str]:
        fields = dict(options)
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in fields.items()):
            raise ConfigurationError("submit options must map strings to strings")
        if callback_url is not None:
            if "callbackUrl" in fields:
                raise ConfigurationError("give the callback URL once, not also as an option")
            fields["callbackUrl"] = require_http_url(callback_url, "callback_url")
        return fields

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """``POST {base}/{name}``: the file as ``file``, options and ``callbackUrl`` as fields."""
        fields = self._submit_fields(options, callback_url)
        return ApiRequest(
            "POST", f"{self.base_url}/{self.name}", self._headers(), fields, file_field="file"
        )

    def download_request(self, job_id: str, status: JobStatus | None) -> ApiRequest:
        default = self._job_url(job_id, "/download")
        if status is not None and status.download_url and status.id == job_id:
            url = status.download_url
            return ApiRequest(
                "GET", url, self._headers() if same_origin(url, self.base_url) else {}
            )
        return self._get(default)

    def cancel_request(self, job_id: str) -> ApiRequest:
        return ApiRequest("POST", self._job_url(job_id, "/cancel"), self._headers())

    def delete_request(self, job_id: str) -> ApiRequest:
        return ApiRequest("DELETE", self._job_url(job_id), self._headers())

    # --- translation ----------------------------------------------------------------------
    def _structure(self, payload: Any, cls: type[_W]) -> _W:
        return structure(payload, cls, source=self.name, secrets=(self._api_key,))

    def _state(self, status: str) -> JobState:
        return job_state(_STATES, status, source=self.name, secrets=(self._api_key,))

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        status = _read_plain_status(payload, self.name, keep_raw, self._api_key)
        return status if status is not None else self._read_status(payload, keep_raw)

    def _read_status(self, payload: Any, keep_raw: bool) -> JobStatus:
        """The full reading: through the wire model, whose errors name every bad field."""
        secrets = (self._api_key,)
        wire = self._structure(payload, JobStatusResponse)
        progress, metrics, output, error = wire.progress, wire.metrics, wire.output, wire.error
        percent = progress.percent
        values: dict[str, Any] = {
            "input_bytes": metrics.input_bytes,
            "output_bytes": metrics.output_bytes,
            "credit_cost": metrics.credit_cost,
        }
        if metrics.compression_ratio is not None:
            values["compression_ratio"] = metrics.compression_ratio
        if metrics.savings_percent is not None:
            values["savings_percent"] = metrics.savings_percent
        return JobStatus(
            id=payload_job_id(wire.id, source=self.name, field="$.id"),
            provider=self.name,
            state=self._state(wire.status),
            progress_percent=min(100.0, max(0.0, percent)) if math.isfinite(percent) else None,
            progress_phase=progress.phase,
            metrics=values,
            output=None
            if output is None
            else OutputInfo(
                file_name=output.file_name,
                content_type=output.content_type,
                file_count=output.file_count,
            ),
            # Servers echo keys back in error text; no output may carry one.
            error_code=None if error is None else redact(error.code, secrets),
            error_detail=None if error is None else redact(error.detail, secrets),
            raw=payload if keep_raw else EMPTY_MAPPING,
        )

    def parse_accepted(self, payload: Any) -> JobAccepted:
        wire = self._structure(payload, JobAcceptedResponse)
        stats = attrs.asdict(wire.stats)
        return JobAccepted(
            id=payload_job_id(wire.id, source=self.name, field="$.id"),
            provider=self.name,
            state=self._state(wire.status),
            queue=QueueInfo(
                pool=wire.queue.pool,
                position=wire.queue.position,
                total_queued=wire.queue.total_queued,
                estimate=wire.queue.estimate,
                estimate_seconds=parse_estimate(wire.queue.estimate),
            ),
            stats=_without_none(
                {k: v.isoformat() if isinstance(v, datetime) else v for k, v in stats.items()}
            ),
            created_at=wire.timeline.queued_at,
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
        """Read ``{"error": code, "detail": text}``; ``now`` is the clock for Retry-After."""
        code = detail = None
        decoded = decode_json(body)
        if isinstance(decoded, Mapping):
            with contextlib.suppress(BadResponseError):
                envelope = structure(decoded, ErrorResponse)
                code, detail = envelope.error, envelope.detail
        return api_error(
            http_status,
            code,
            detail,
            headers,
            not_ready_codes=_NOT_READY_CODES,
            secrets=[self._api_key],
            now=now,
        )


class ToolsFastCompress(_ToolsFastJobs):
    """tools.fast compression jobs (``/compress``), with compare, discovery and entitlements.

    Those three are this API's own operations: each method returns an :class:`ApiCall` that
    :meth:`fastwait.Client.call` runs (``await client.call(api.compare(job_id))``). The API
    key travels in the ``X-Fast-Api-Key`` header and is never shown in reprs or errors.
    """

    name: ClassVar[str] = "compress"
    __slots__ = ()

    def compare(self, job_id: str) -> ApiCall[CompareResponse]:
        """``GET /compress/job/{id}/compare``: before/after previews of a succeeded job."""
        return ApiCall(self._get(self._job_url(job_id, "/compare")), self._parse_compare)

    def compressors(self) -> ApiCall[GetCompressorsResponse]:
        """``GET /compress/compressors``: what can be compressed, at what cost, up to what size."""
        return ApiCall(self._get(f"{self.base_url}/compress/compressors"), self._parse_compressors)

    def entitlements(self) -> ApiCall[EntitlementsResponse]:
        """``GET /compress/entitlements/me``: the plan and credits behind the API key."""
        return ApiCall(
            self._get(f"{self.base_url}/compress/entitlements/me"), self._parse_entitlements
        )

    def _parse_compare(self, payload: Any) -> CompareResponse:
        return self._structure(payload, CompareResponse)

    def _parse_compressors(self, payload: Any) -> GetCompressorsResponse:
        return self._structure(payload, GetCompressorsResponse)

    def _parse_entitlements(self, payload: Any) -> EntitlementsResponse:
        return self._structure(payload, EntitlementsResponse)


class ToolsFastConvert(_ToolsFastJobs):
    """tools.fast conversion jobs (``/convert``); outputs expire one hour after completion.

    Submitting needs the ``targetFormat`` option. The API key travels in ``X-Fast-Api-Key``.
    """

    name: ClassVar[str] = "convert"
    __slots__ = ()

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """``POST {base}/convert`` with ``file`` and ``targetFormat`` (required)."""
        target = options.get("targetFormat")
        if not isinstance(target, str) or not target.strip():
            raise ConfigurationError("convert needs the 'targetFormat' option (e.g. 'pdf')")
        return super().submit_request(file_name, options, callback_url)
