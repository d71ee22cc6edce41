"""The wire models and their one converter: seed payloads in, strict where the seeds are."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import attrs
import pytest
import seed_payloads as seeds

from fastwait.exceptions import BadResponseError
from fastwait.providers import _wire
from fastwait.providers._converter import _converter, _fast_converter, structure, wire_name
from fastwait.providers._wire import (
    CompareResponse,
    CompressorAppJob,
    CompressorsListResponse,
    CostEstimateResponse,
    EntitlementsResponse,
    ErrorResponse,
    GetCompressorsResponse,
    JobAcceptedResponse,
    JobStatusResponse,
    MediaJobAccepted,
    MediaJobStatus,
)

COSTING = {
    "strategy": "PerMegabyte",
    "baseCost": 1,
    "increment": 40,
    "incrementUnit": "mb",
    "displaySuffix": "per 40 MB",
}

# No seed shows these three; they are built field by field from the tables in seed 002.
COMPRESSORS = {
    "compressors": [
        {
            "job": "image.jpg-compress",
            "category": "images",
            "costing": COSTING,
            "endpoint": "/api/compress",
            "inputFormats": ["jpg", "jpeg"],
            "outputFormats": ["jpg"],
            "maxFileSizeBytes": 104857600,
            "maxConcurrentJobs": 4,
        }
    ],
    "sourceFormatTo": {
        "jpg": [
            {
                "sourceFormat": "jpg",
                "targetFormat": "jpg",
                "job": "image.jpg-compress",
                "category": "images",
                "costing": COSTING,
                "maxFileSizeBytes": 104857600,
                "maxConcurrentJobs": 4,
            }
        ]
    },
    "maxFileSizeBytes": 104857600,
    "maxConcurrentJobs": 4,
    "maxBatchFiles": 20,
}

COST_ESTIMATE = {
    "job": "image.jpg-compress",
    "category": "images",
    "estimatedCredits": 1,
    "costing": COSTING,
    "inputs": {"fileSizeBytes": None, "fileSizeMb": None},
    "limits": {"maxFileSizeBytes": 104857600},
}


DOCUMENTED_SHAPES: list[tuple[dict[str, Any], type[Any]]] = [
    (seeds.TF_COMPRESS_STATUS, JobStatusResponse),
    (seeds.TF_CONVERT_STATUS, JobStatusResponse),
    (seeds.TF_MODELS_STATUS, JobStatusResponse),
    (seeds.TF_ACCEPTED, JobAcceptedResponse),
    (seeds.TF_COMPARE, CompareResponse),
    (seeds.TF_ENTITLEMENTS, EntitlementsResponse),
    (seeds.TF_LEGACY_COMPRESSORS, CompressorsListResponse),
    (seeds.TF_ERROR_NOT_FOUND, ErrorResponse),
    (seeds.TF_ERROR_NOT_READY, ErrorResponse),
    (seeds.TF_ERROR_INVALID_EXTENSION, ErrorResponse),
    (seeds.COMPRESSORAPP_ACK, CompressorAppJob),
    (seeds.COMPRESSORAPP_PROCESSING, CompressorAppJob),
    (seeds.COMPRESSORAPP_COMPLETED, CompressorAppJob),
    (seeds.COMPRESSORAPP_FAILED, CompressorAppJob),
    (seeds.MEDIA_ACCEPTED, MediaJobAccepted),
    (seeds.MEDIA_DONE, MediaJobStatus),
    (COMPRESSORS, GetCompressorsResponse),
    (COST_ESTIMATE, CostEstimateResponse),
]


@pytest.mark.parametrize(("payload", "cls"), DOCUMENTED_SHAPES)
def test_every_documented_shape_structures(payload: dict[str, Any], cls: type[Any]) -> None:
    assert isinstance(structure(payload, cls), cls)


@pytest.mark.parametrize(("payload", "cls"), DOCUMENTED_SHAPES)
def test_the_fast_reading_agrees_with_the_detailed_one(
    payload: dict[str, Any], cls: type[Any]
) -> None:
    assert _fast_converter.structure(payload, cls) == _converter.structure(payload, cls)


def test_an_integral_number_the_fast_reading_declines_is_still_an_integer() -> None:
    payload = _with(seeds.TF_COMPRESS_STATUS, "metrics.inputBytes", 10333959.0)

    metrics = structure(payload, JobStatusResponse).metrics
    assert metrics.input_bytes == 10333959
    assert type(metrics.input_bytes) is int


def test_a_mapping_that_is_not_a_dict_is_still_read() -> None:
    payload = MappingProxyType(seeds.TF_COMPRESS_STATUS)

    assert structure(payload, JobStatusResponse) == structure(
        seeds.TF_COMPRESS_STATUS, JobStatusResponse
    )


def test_camel_case_keys_fill_snake_case_attributes() -> None:
    accepted = structure(seeds.TF_ACCEPTED, JobAcceptedResponse)

    assert accepted.stats.input_p50_bytes == 4200000
    assert accepted.queue.total_queued == 7
    assert accepted.timeline.queued_at == datetime(2026, 2, 23, 10, 1, 0, 460000, tzinfo=UTC)
    assert accepted.metrics.upload_ms == 450


def test_nested_collections_become_tuples_of_models() -> None:
    listing = structure(COMPRESSORS, GetCompressorsResponse)

    assert listing.compressors[0].input_formats == ("jpg", "jpeg")
    assert listing.source_format_to["jpg"][0].costing.display_suffix == "per 40 MB"
    assert listing.source_format_to["jpg"][0].endpoint is None


@pytest.mark.parametrize("name", ["inputP50Bytes", "asOfUtc", "jobId", "sha1", "sourceFormatTo"])
def test_wire_name_inverts_the_snake_case_attribute(name: str) -> None:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    assert wire_name(snake) == name


def test_unknown_fields_are_ignored() -> None:
    payload = {**seeds.TF_COMPRESS_STATUS, "newField": {"x": 1}}
    payload["progress"] = {**payload["progress"], "eta": "soon"}

    assert structure(payload, JobStatusResponse).progress.percent == 100


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``payload`` with the dotted ``path`` set to ``value`` (or removed)."""
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    target = result
    for key in parents:
        target = target[key]
    if value is _MISSING:
        del target[last]
    else:
        target[last] = value
    return result


_MISSING = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("progress.percent", "ninety", "expected a number, got a string @ $.progress.percent"),
        (
            "metrics.inputBytes",
            "10333959",
            "expected an integer, got a string @ $.metrics.inputBytes",
        ),
        ("metrics.inputBytes", 1.5, "expected an integer, got a number @ $.metrics.inputBytes"),
        ("metrics.creditCost", True, "expected a number, got a boolean @ $.metrics.creditCost"),
        ("id", None, "expected a string, got null @ $.id"),
        ("id", 42, "expected a string, got a number @ $.id"),
        ("status", _MISSING, "required field missing @ $.status"),
        ("metrics.outputBytes", _MISSING, "required field missing @ $.metrics.outputBytes"),
        ("progress", None, "expected an object, got null @ $.progress"),
        ("progress", [], "expected an object, got an array @ $.progress"),
        ("output.fileCount", "1", "expected an integer or null, got a string @ $.output.fileCount"),
    ],
)
def test_a_wrong_value_names_its_wire_path(path: str, value: Any, message: str) -> None:
    with pytest.raises(BadResponseError, match="JobStatusResponse") as caught:
        structure(_with(seeds.TF_COMPRESS_STATUS, path, value), JobStatusResponse)

    assert message in str(caught.value)


def test_an_array_of_strings_refuses_a_bare_string() -> None:
    payload = _with(seeds.TF_LEGACY_COMPRESSORS, "route", "/api/compress")
    payload["compressors"][0]["inputFormats"] = ".jpg"

    with pytest.raises(
        BadResponseError, match=r"got a string @ \$\.compressors\[0\]\.inputFormats"
    ):
        structure(payload, CompressorsListResponse)


def test_a_bad_timestamp_names_its_field() -> None:
    payload = _with(seeds.TF_ACCEPTED, "timeline.queuedAt", "yesterday")

    with pytest.raises(BadResponseError, match=r"ISO 8601 timestamp @ \$\.timeline\.queuedAt"):
        structure(payload, JobAcceptedResponse)


def test_every_problem_is_reported_at_once() -> None:
    payload = _with(_with(seeds.TF_COMPRESS_STATUS, "id", None), "status", _MISSING)

    with pytest.raises(BadResponseError) as caught:
        structure(payload, JobStatusResponse)

    assert "$.id" in str(caught.value)
    assert "$.status" in str(caught.value)


@pytest.mark.parametrize("payload", [[], "job", None, 3])
def test_a_payload_that_is_not_an_object_is_a_bad_response(payload: Any) -> None:
    with pytest.raises(BadResponseError, match=r"expected an object @ \$$"):
        structure(payload, JobStatusResponse)


def test_a_bad_response_is_not_transient_and_hides_cattrs() -> None:
    with pytest.raises(BadResponseError) as caught:
        structure({"id": 1}, JobStatusResponse)

    assert caught.value.transient is False
    assert "cattrs" not in type(caught.value).__module__


def test_secrets_are_removed_from_the_message() -> None:
    payload = {**COMPRESSORS, "sourceFormatTo": {"sekrit-key": "not an array"}}

    with pytest.raises(BadResponseError) as caught:
        structure(payload, GetCompressorsResponse, source="compress", secrets=["sekrit-key"])

    assert "sekrit-key" not in str(caught.value)
    assert str(caught.value).startswith("compress: GetCompressorsResponse: ")


@pytest.mark.parametrize("name", _wire.__all__)
def test_wire_models_are_frozen_attrs_classes(name: str) -> None:
    cls = getattr(_wire, name)
    instance = object.__new__(cls)

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(instance, attrs.fields(cls)[0].name, None)
