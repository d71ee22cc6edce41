"""tools.fast's static discovery payloads: compressors, the legacy list, entitlements.

Shapes follow the models reference (seed 002); the catalogue itself (which compressors, their
costing, the tier limits) is the fake's choice, consistent with what compress accepts.
"""

from __future__ import annotations

from typing import Any, Final

from fastwait.testing._formats import FileFormat

__all__ = [
    "compressors_payload",
    "entitlements_payload",
    "legacy_compressors_payload",
    "pool_for",
]

_ENDPOINT: Final = "/api/compress"
_MAX_FILE_SIZE: Final = 100 * 1024 * 1024
_MAX_CONCURRENT: Final = 10
_MAX_BATCH: Final = 50

_FIXED: Final[dict[str, Any]] = {
    "strategy": "Fixed",
    "baseCost": 1,
    "increment": None,
    "incrementUnit": None,
    "displaySuffix": "per file",
}
_PER_40_MB: Final[dict[str, Any]] = {
    "strategy": "PerMegabyte",
    "baseCost": 1,
    "increment": 40,
    "incrementUnit": "mb",
    "displaySuffix": "per 40 MB",
}

# job, category, pool, input formats, output formats, costing
_COMPRESSORS: Final = (
    ("image.jpg-compress", "images", "ImagePool", ("jpg", "jpeg"), ("jpg",), _FIXED),
    ("image.png-compress", "images", "ImagePool", ("png",), ("png",), _FIXED),
    ("image.webp-compress", "images", "ImagePool", ("webp",), ("webp",), _FIXED),
    ("image.gif-compress", "images", "ImagePool", ("gif",), ("gif",), _FIXED),
    ("image.avif-compress", "images", "ImagePool", ("avif",), ("avif",), _FIXED),
    ("image.svg-compress", "images", "ImagePool", ("svg",), ("svg",), _FIXED),
    ("document.pdf-compress", "documents", "DocumentPool", ("pdf",), ("pdf",), _PER_40_MB),
)

_POOLS: Final = {
    "image": ("ImagePool", 1.0),
    "document": ("DocumentPool", 2.5),
    "video": ("VideoPool", 4.0),
    "audio": ("AudioPool", 2.0),
    "archive": ("ArchivePool", 1.0),
}


def pool_for(source: FileFormat | None) -> tuple[str, float]:
    """The worker pool and scheduling weight a job of this source format is queued in."""
    return _POOLS[source.kind] if source is not None else ("DefaultPool", 1.0)


def compressors_payload() -> dict[str, Any]:
    """GetCompressorsResponse (``GET /compress/compressors``)."""
    items: list[dict[str, Any]] = []
    graph: dict[str, list[dict[str, Any]]] = {}
    for job, category, _pool, inputs, outputs, costing in _COMPRESSORS:
        items.append(
            {
                "job": job,
                "category": category,
                "costing": costing,
                "endpoint": _ENDPOINT,
                "inputFormats": list(inputs),
                "outputFormats": list(outputs),
                "maxFileSizeBytes": _MAX_FILE_SIZE,
                "maxConcurrentJobs": _MAX_CONCURRENT,
            }
        )
        for source in inputs:
            graph.setdefault(source, []).extend(
                {
                    "sourceFormat": source,
                    "targetFormat": target,
                    "job": job,
                    "endpoint": _ENDPOINT,
                    "category": category,
                    "costing": costing,
                    "maxFileSizeBytes": _MAX_FILE_SIZE,
                    "maxConcurrentJobs": _MAX_CONCURRENT,
                }
                for target in outputs
            )
    return {
        "compressors": items,
        "sourceFormatTo": graph,
        "maxFileSizeBytes": _MAX_FILE_SIZE,
        "maxConcurrentJobs": _MAX_CONCURRENT,
        "maxBatchFiles": _MAX_BATCH,
    }


def legacy_compressors_payload() -> dict[str, Any]:
    """CompressorsListResponse (legacy ``GET /compress``): dotted extensions, pool names."""
    return {
        "route": _ENDPOINT,
        "compressors": [
            {
                "jobId": job,
                "category": category,
                "pool": pool,
                "inputFormats": [f".{ext}" for ext in inputs],
                "outputFormats": [f".{ext}" for ext in outputs],
            }
            for job, category, pool, inputs, outputs, _costing in _COMPRESSORS
        ],
    }


def entitlements_payload() -> dict[str, Any]:
    """EntitlementsResponse (``GET /compress/entitlements/me``): the seed's Pro-tier example."""
    return {
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
