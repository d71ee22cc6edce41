"""The example payloads and error tables of the seed documents (/work/shared/seeds), verbatim.

Tests derive variations from these (``{**PAYLOAD, "status": ...}``) rather than inventing shapes;
every constant names the document it was copied from.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "COMPRESSORAPP_ACK",
    "COMPRESSORAPP_COMPLETED",
    "COMPRESSORAPP_FAILED",
    "COMPRESSORAPP_PROCESSING",
    "MEDIA_ACCEPTED",
    "MEDIA_DONE",
    "MEDIA_ERROR_TABLE",
    "TF_ACCEPTED",
    "TF_COMPARE",
    "TF_COMPRESS_ERROR_TABLE",
    "TF_COMPRESS_STATUS",
    "TF_CONVERT_ERROR_TABLE",
    "TF_CONVERT_STATUS",
    "TF_ENTITLEMENTS",
    "TF_ERROR_INVALID_EXTENSION",
    "TF_ERROR_NOT_FOUND",
    "TF_ERROR_NOT_READY",
    "TF_JOB_ID",
    "TF_LEGACY_COMPRESSORS",
    "TF_MODELS_STATUS",
]

# --- 000: tools.fast compress, /compress/job/{id} ----------------------------------------

TF_JOB_ID: Final = "019c56457340753ba9441d7b4e6516a0"

TF_COMPRESS_STATUS: Final[dict[str, Any]] = {
    "id": "019c56457340753ba9441d7b4e6516a0",
    "status": "Succeeded",
    "format": "jpg",
    "progress": {"percent": 100, "phase": None},
    "metrics": {
        "inputBytes": 10333959,
        "outputBytes": 3421187,
        "creditCost": 1,
        "compressionRatio": 0.33,
        "savingsPercent": 66.9,
    },
    "error": None,
    "output": {"fileName": "photo-compressed.jpg", "contentType": "image/jpeg", "fileCount": 1},
}

TF_COMPARE: Final[dict[str, Any]] = {
    "beforeImage": "<base64>",
    "afterImage": "<base64>",
    "originalBytes": 10333959,
    "compressedBytes": 3421187,
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

# (HTTP status, code, endpoint) rows of the compress error table.
TF_COMPRESS_ERROR_TABLE: Final[tuple[tuple[int, str, str], ...]] = (
    (401, "api_key.invalid_or_ip_not_allowed", "all"),
    (403, "jobs.forbidden", "all"),
    (404, "jobs.not_found", "all"),
    (409, "jobs.not_ready", "download"),
    (409, "jobs.not_cancellable", "cancel"),
    (409, "jobs.not_deletable", "delete"),
    (409, "compare.not_ready", "compare"),
    (410, "jobs.expired", "download"),
    (410, "compare.expired", "compare"),
    (504, "compare.timeout", "compare"),
)

TF_ERROR_NOT_FOUND: Final[dict[str, Any]] = {"error": "jobs.not_found", "detail": None}

TF_ERROR_NOT_READY: Final[dict[str, Any]] = {
    "error": "jobs.not_ready",
    "detail": "Job is still processing or waiting to start.",
}

# --- 001: tools.fast convert, /convert/job/{id} ------------------------------------------

TF_CONVERT_STATUS: Final[dict[str, Any]] = {
    "id": "019c56457340753ba9441d7b4e6516a0",
    "status": "Succeeded",
    "progress": {"percent": 100, "phase": None},
    "metrics": {"inputBytes": 10333959, "outputBytes": 10335712, "creditCost": 1},
    "error": None,
    "output": {"fileName": "document.jpg", "contentType": "image/jpeg", "fileCount": 1},
}

TF_CONVERT_ERROR_TABLE: Final[tuple[tuple[int, str, str], ...]] = (
    (401, "api_key.invalid_or_ip_not_allowed", "all"),
    (403, "jobs.forbidden", "all"),
    (404, "jobs.not_found", "all"),
    (409, "jobs.not_ready", "download"),
    (409, "jobs.not_cancellable", "cancel"),
    (409, "jobs.not_deletable", "delete"),
    (410, "jobs.expired", "download"),
)

# --- 002: tools.fast models --------------------------------------------------------------

TF_ERROR_INVALID_EXTENSION: Final[dict[str, Any]] = {
    "error": "request.invalid_extension",
    "detail": "File extension '.mp3' is not accepted by this compressor.",
}

TF_ACCEPTED: Final[dict[str, Any]] = {
    "id": "0195e2a0-1234-7000-8000-000000000001",
    "status": "Queued",
    "fileName": "photo",
    "format": "jpg",
    "stats": {
        "inputP50Bytes": 4200000,
        "inputMeanBytes": 5100000,
        "sampleCount": 128,
        "asOfUtc": "2026-02-23T10:00:00Z",
        "validUntilUtc": "2026-02-23T10:05:00Z",
    },
    "timeline": {
        "uploadStartedAt": "2026-02-23T10:01:00.000Z",
        "uploadFinishedAt": "2026-02-23T10:01:00.450Z",
        "queuedAt": "2026-02-23T10:01:00.460Z",
    },
    "queue": {
        "pool": "ImagePool",
        "position": 3,
        "weight": 2.5,
        "totalQueued": 7,
        "estimate": "< 5s",
    },
    "metrics": {"inputBytes": 10333959, "uploadMs": 450, "processingMs": 0, "totalMs": 460},
}

TF_MODELS_STATUS: Final[dict[str, Any]] = {
    "id": "0195e2a0-1234-7000-8000-000000000001",
    "status": "Succeeded",
    "format": "jpg",
    "progress": {"percent": 100, "phase": None},
    "metrics": {
        "inputBytes": 10333959,
        "outputBytes": 3421187,
        "creditCost": 1,
        "compressionRatio": 0.33,
        "savingsPercent": 66.9,
    },
    "error": None,
    "output": {"fileName": "photo-compressed.jpg", "contentType": "image/jpeg", "fileCount": 1},
}

TF_LEGACY_COMPRESSORS: Final[dict[str, Any]] = {
    "route": "/api/compress",
    "compressors": [
        {
            "jobId": "image.jpg-compress",
            "category": "images",
            "pool": "ImagePool",
            "inputFormats": [".jpg", ".jpeg"],
            "outputFormats": [".jpg"],
        }
    ],
}

TF_ENTITLEMENTS: Final[dict[str, Any]] = {
    "userId": "0195e2a0-1234-7000-8000-000000000099",
    "organizationId": "0195e2a0-1234-7000-8000-000000000050",
    "planId": "pro",
    "planName": "Pro",
    "accessDisplayName": "Pro",
    "totalCredits": 4850,
    "planCredits": 5000,
    "loyaltyCredits": 0,
    "walletCredits": 0,
    "source": "accounts.tools.fast",
    "tier": "pro",
}

# --- 003: compressor.app long polling ----------------------------------------------------

COMPRESSORAPP_ACK: Final[dict[str, Any]] = {
    "id": "38a8bb5e-7b50-4a22-a0a6-b9602fccb225",
    "status": "enqueued",
}

COMPRESSORAPP_PROCESSING: Final[dict[str, Any]] = {
    "id": "38a8bb5e-7b50-4a22-a0a6-b9602fccb225",
    "status": "processing",
}

COMPRESSORAPP_COMPLETED: Final[dict[str, Any]] = {
    "id": "38a8bb5e-7b50-4a22-a0a6-b9602fccb225",
    "status": "completed",
    "url": "https://api.compressor.app/1765712100/38a8bb5e-7b50-4a22-a0a6-b9602fccb225/output.mp4",
    "input": {
        "name": "input.mp4",
        "type": "video",
        "format": "mp4",
        "mime": "video/mp4",
        "size": 84510234,
        "sha1": "aad2a74bc3c322b2a1db120ed0d8804c1b23e9bb",
    },
    "output": {
        "name": "output.mp4",
        "type": "video",
        "format": "mp4",
        "mime": "video/mp4",
        "size": 31244109,
        "sha1": "0fa123704be4c84af340f3f6ede800ba254344c2",
    },
}

COMPRESSORAPP_FAILED: Final[dict[str, Any]] = {
    "success": False,
    "id": "0c3a7bf4-9986-4f4a-bb72-155e9111c5de",
    "status": "failed",
    "message": "Incoming request body does not contain a valid JSON data",
}

# --- 004: self-hosted media optimizer ----------------------------------------------------

MEDIA_ACCEPTED: Final[dict[str, Any]] = {
    "jobId": "5c3a1b2e-...",
    "status": "pending",
    "createdAt": 1741694400000,
}

MEDIA_DONE: Final[dict[str, Any]] = {
    "jobId": "5c3a1b2e-...",
    "status": "done",
    "preset": "low-bandwidth",
    "filename": "clip.mp4",
    "inputBytes": 4200000,
    "result": {
        "kind": "video",
        "strategy": "video-webm-vp9",
        "contentType": "video/webm",
        "filename": "clip.webm",
        "outputBytes": 312000,
        "savedBytes": 3888000,
        "savedPercent": 92.57,
        "inputDurationSec": 30,
        "outputDurationSec": 30,
        "inputWidth": 1920,
        "outputWidth": 720,
    },
    "downloadUrl": "https://...",
}

# (HTTP status, code, description) rows of the media error table.
MEDIA_ERROR_TABLE: Final[tuple[tuple[int, str, str], ...]] = (
    (400, "invalid-input", "Missing or non-file media field"),
    (404, "not-found", "Job ID does not exist"),
    (409, "not-ready", "Download requested before job is done"),
)
