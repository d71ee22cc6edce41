"""Wire models: every JSON response shape the seed documents specify, as frozen attrs values.

Attributes are the snake_case of the API's camelCase keys (``inputP50Bytes`` ->
``input_p50_bytes``); the renaming lives in :mod:`fastwait.providers._converter`, never here.
A field the documents mark required has no default; a field they mark optional (or leave
unspecified) defaults to None. ``number`` becomes ``int`` for counts, bytes and pixels and
``float`` for everything that may be fractional (credits, ratios, durations, percentages).
Unknown fields are ignored, so these models only pin down what fastwait reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = [
    "AcceptedMetrics",
    "AcceptedQueue",
    "AcceptedStats",
    "AcceptedTimeline",
    "CompareResponse",
    "CompressorAppErrorResponse",
    "CompressorAppFile",
    "CompressorAppJob",
    "CompressorItem",
    "CompressorsListResponse",
    "CostEstimateInputs",
    "CostEstimateLimits",
    "CostEstimateResponse",
    "DiscoveryCostingInfo",
    "EntitlementsResponse",
    "ErrorResponse",
    "FormatOption",
    "GetCompressorsResponse",
    "JobAcceptedResponse",
    "JobFailure",
    "JobMetrics",
    "JobOutput",
    "JobProgress",
    "JobStatusResponse",
    "LegacyCompressorItem",
    "MediaErrorResponse",
    "MediaFlatErrorResponse",
    "MediaJobAccepted",
    "MediaJobFailure",
    "MediaJobStatus",
    "MediaResult",
]

# --- tools.fast: errors ------------------------------------------------------------------


@attrs.frozen
class ErrorResponse:
    """tools.fast's error envelope, ``{"error": code, "detail": text|null}``.

    ``detail`` is required by the documents but defaults to None here, so an envelope that
    omits it still yields its code.
    """

    error: str
    detail: str | None = None


# --- tools.fast: submission --------------------------------------------------------------


@attrs.frozen
class AcceptedStats:
    """Recent input sizes of the pool, for a first guess at the job's duration."""

    input_p50_bytes: float | None
    input_mean_bytes: float | None
    sample_count: int
    as_of_utc: datetime | None = None
    valid_until_utc: datetime | None = None


@attrs.frozen
class AcceptedTimeline:
    upload_started_at: datetime
    upload_finished_at: datetime
    queued_at: datetime


@attrs.frozen
class AcceptedQueue:
    """Where the job waits; ``estimate`` is free text such as ``"< 5s"``."""

    pool: str
    position: int
    weight: float
    total_queued: int
    estimate: str | None = None


@attrs.frozen
class AcceptedMetrics:
    input_bytes: int | None
    upload_ms: float
    processing_ms: float
    total_ms: float


@attrs.frozen
class JobAcceptedResponse:
    """``POST /compress`` (and ``/convert``) answer.

    ``format`` is optional here although documented as required for compress: convert's
    documents omit it from their examples and fastwait does not need it.
    """

    id: str
    status: str
    file_name: str
    stats: AcceptedStats
    timeline: AcceptedTimeline
    queue: AcceptedQueue
    metrics: AcceptedMetrics
    format: str | None = None


# --- tools.fast: status ------------------------------------------------------------------


@attrs.frozen
class JobProgress:
    percent: float
    phase: str | None = None


@attrs.frozen
class JobMetrics:
    input_bytes: int
    output_bytes: int
    credit_cost: float
    compression_ratio: float | None = None
    savings_percent: float | None = None


@attrs.frozen
class JobFailure:
    """``error`` of a failed job; ``code`` is required whenever the object is present."""

    code: str
    detail: str | None = None


@attrs.frozen
class JobOutput:
    """``output`` of a succeeded job; ``file_name`` is required whenever it is present."""

    file_name: str
    content_type: str | None = None
    file_count: int | None = None


@attrs.frozen
class JobStatusResponse:
    """``GET /compress/job/{id}`` and ``GET /convert/job/{id}`` (convert omits ``format``)."""

    id: str
    status: str
    progress: JobProgress
    metrics: JobMetrics
    format: str | None = None
    error: JobFailure | None = None
    output: JobOutput | None = None


# --- tools.fast: compare, discovery, entitlements ----------------------------------------


@attrs.frozen
class CompareResponse:
    """``GET /compress/job/{id}/compare``: base64 previews and their sizes."""

    before_image: str
    after_image: str
    original_bytes: int
    compressed_bytes: int
    before_mime_type: str
    after_mime_type: str
    preview_width: int
    preview_height: int
    after_preview_width: int
    after_preview_height: int
    input_width: int
    input_height: int
    output_width: int
    output_height: int
    was_resized: bool


@attrs.frozen
class DiscoveryCostingInfo:
    strategy: str
    base_cost: float
    display_suffix: str
    increment: float | None = None
    increment_unit: str | None = None


@attrs.frozen
class CompressorItem:
    job: str
    category: str
    costing: DiscoveryCostingInfo
    endpoint: str
    input_formats: tuple[str, ...]
    output_formats: tuple[str, ...]
    max_file_size_bytes: int
    max_concurrent_jobs: int


@attrs.frozen
class FormatOption:
    """One edge of the format graph ``sourceFormatTo``: a source format and a way out of it."""

    source_format: str
    target_format: str
    job: str
    category: str
    costing: DiscoveryCostingInfo
    max_file_size_bytes: int
    max_concurrent_jobs: int
    endpoint: str | None = None


@attrs.frozen
class GetCompressorsResponse:
    """``GET /compress/compressors``."""

    compressors: tuple[CompressorItem, ...]
    source_format_to: Mapping[str, tuple[FormatOption, ...]]
    max_file_size_bytes: int
    max_concurrent_jobs: int
    max_batch_files: int


@attrs.frozen
class CostEstimateInputs:
    file_size_bytes: int | None
    file_size_mb: float | None


@attrs.frozen
class CostEstimateLimits:
    max_file_size_bytes: int | None


@attrs.frozen
class CostEstimateResponse:
    """The discovery cost estimate (the documents give its fields but no endpoint)."""

    job: str
    category: str
    estimated_credits: float
    costing: DiscoveryCostingInfo
    inputs: CostEstimateInputs
    limits: CostEstimateLimits


@attrs.frozen
class LegacyCompressorItem:
    """Formats here are dotted (``".jpg"``), unlike :class:`CompressorItem`'s."""

    job_id: str
    category: str
    pool: str
    input_formats: tuple[str, ...]
    output_formats: tuple[str, ...]


@attrs.frozen
class CompressorsListResponse:
    """Legacy ``GET /compress`` listing."""

    route: str
    compressors: tuple[LegacyCompressorItem, ...]


@attrs.frozen
class EntitlementsResponse:
    """``GET /compress/entitlements/me``: the plan and credits behind the API key."""

    plan_id: str
    plan_name: str
    total_credits: float
    plan_credits: float
    loyalty_credits: float
    wallet_credits: float
    source: str
    tier: str
    user_id: str | None = None
    organization_id: str | None = None
    access_display_name: str | None = None


# --- compressor.app ----------------------------------------------------------------------


@attrs.frozen
class CompressorAppFile:
    """``input``/``output`` of a completed job; the documents give no required fields."""

    name: str | None = None
    type: str | None = None
    format: str | None = None
    mime: str | None = None
    size: int | None = None
    sha1: str | None = None


@attrs.frozen
class CompressorAppJob:
    """Acknowledgement and status alike: ``{"id", "status"}`` plus the result once finished."""

    id: str
    status: str
    url: str | None = None
    input: CompressorAppFile | None = None
    output: CompressorAppFile | None = None
    success: bool | None = None
    message: str | None = None


@attrs.frozen
class CompressorAppErrorResponse:
    """``{"success": false, "message": ...}``."""

    success: bool | None = None
    message: str | None = None


# --- self-hosted media optimizer ---------------------------------------------------------


@attrs.frozen
class MediaJobAccepted:
    """``202`` of ``POST /api/media/jobs``; ``created_at`` is epoch milliseconds."""

    job_id: str
    status: str
    created_at: int


@attrs.frozen
class MediaResult:
    """``result`` of a done job: "the same metadata as sync optimize", none of it guaranteed."""

    kind: str | None = None
    strategy: str | None = None
    content_type: str | None = None
    filename: str | None = None
    output_bytes: int | None = None
    saved_bytes: int | None = None
    saved_percent: float | None = None
    input_duration_sec: float | None = None
    output_duration_sec: float | None = None
    input_width: int | None = None
    output_width: int | None = None


@attrs.frozen
class MediaJobFailure:
    code: str | None = None
    message: str | None = None


@attrs.frozen
class MediaJobStatus:
    """``GET /api/media/jobs/{id}``; ``download_url`` may be pre-signed or relative."""

    job_id: str
    status: str
    preset: str | None = None
    filename: str | None = None
    input_bytes: int | None = None
    result: MediaResult | None = None
    download_url: str | None = None
    error: MediaJobFailure | None = None


@attrs.frozen
class MediaErrorResponse:
    """Error envelope ``{"error": {"code", "message"}}``."""

    error: MediaJobFailure


@attrs.frozen
class MediaFlatErrorResponse:
    """Error envelope ``{"error": "code", "message": ...}``, the other form servers send."""

    error: str
    message: str | None = None
