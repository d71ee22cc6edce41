"""Providers read status payloads (and webhook bodies) into JobStatus and JobAccepted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import seed_payloads as seeds

from fastwait._models import JobState, OutputInfo, QueueInfo
from fastwait.exceptions import BadResponseError
from fastwait.providers import (
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
)
from fastwait.providers._toolsfast import _read_plain_status, parse_estimate

API_KEY = "fast_prod_your_key_here"
MEDIA = "http://media.internal:8080"


def _compress() -> ToolsFastCompress:
    return ToolsFastCompress(API_KEY)


def _convert() -> ToolsFastConvert:
    return ToolsFastConvert(API_KEY)


def _compressorapp() -> CompressorApp:
    return CompressorApp(API_KEY)


def _media() -> MediaJobs:
    return MediaJobs(MEDIA)


def _tf_in_progress(status: str, percent: float = 40) -> dict[str, Any]:
    """The seed's status payload as it looks before success (output null, per seed 001)."""
    return {
        **seeds.TF_COMPRESS_STATUS,
        "status": status,
        "progress": {"percent": percent, "phase": "encode"},
        "output": None,
    }


TF_FAILED = {
    **_tf_in_progress("Failed"),
    "error": {"code": "compress.failed", "detail": "Corrupt JPEG data"},
}
MEDIA_FAILED = {
    "jobId": "5c3a1b2e-...",
    "status": "failed",
    "error": {"code": "encode-failed", "message": "ffmpeg exited with 1"},
}


@pytest.mark.parametrize(
    ("make", "payload", "state"),
    [
        (_compress, _tf_in_progress("Queued", 0), JobState.QUEUED),
        (_compress, _tf_in_progress("Running"), JobState.RUNNING),
        (_compress, seeds.TF_COMPRESS_STATUS, JobState.SUCCEEDED),
        (_compress, seeds.TF_MODELS_STATUS, JobState.SUCCEEDED),
        (_compress, TF_FAILED, JobState.FAILED),
        (_compress, _tf_in_progress("Canceled"), JobState.CANCELED),
        (_compress, _tf_in_progress("running"), JobState.RUNNING),
        (_convert, {**seeds.TF_CONVERT_STATUS, "status": "Queued"}, JobState.QUEUED),
        (_convert, {**seeds.TF_CONVERT_STATUS, "status": "Running"}, JobState.RUNNING),
        (_convert, seeds.TF_CONVERT_STATUS, JobState.SUCCEEDED),
        (_convert, {**seeds.TF_CONVERT_STATUS, "status": "Failed"}, JobState.FAILED),
        (_convert, {**seeds.TF_CONVERT_STATUS, "status": "Canceled"}, JobState.CANCELED),
        (_compressorapp, seeds.COMPRESSORAPP_ACK, JobState.QUEUED),
        (_compressorapp, seeds.COMPRESSORAPP_PROCESSING, JobState.RUNNING),
        (_compressorapp, seeds.COMPRESSORAPP_COMPLETED, JobState.SUCCEEDED),
        (_compressorapp, seeds.COMPRESSORAPP_FAILED, JobState.FAILED),
        (_media, {**seeds.MEDIA_ACCEPTED}, JobState.QUEUED),
        (_media, {"jobId": "5c3a1b2e-...", "status": "processing"}, JobState.RUNNING),
        (_media, seeds.MEDIA_DONE, JobState.SUCCEEDED),
        (_media, MEDIA_FAILED, JobState.FAILED),
    ],
)
def test_each_documented_status_maps_to_its_state(
    make: Callable[[], Provider], payload: dict[str, Any], state: JobState
) -> None:
    assert make().parse_status(payload).state is state


@pytest.mark.parametrize(
    ("make", "payload"),
    [
        (_compress, _tf_in_progress("Exploded")),
        (_convert, {**seeds.TF_CONVERT_STATUS, "status": "completed"}),
        (_media, {"jobId": "5c3a1b2e-...", "status": "Succeeded"}),
    ],
)
def test_an_unknown_status_is_a_bad_response(
    make: Callable[[], Provider], payload: dict[str, Any]
) -> None:
    with pytest.raises(BadResponseError, match=r"unknown job status .* @ \$\.status"):
        make().parse_status(payload)


def test_compressorapp_reads_an_unlisted_status_as_still_running() -> None:
    payload = {**seeds.COMPRESSORAPP_PROCESSING, "status": "uploading"}

    assert _compressorapp().parse_status(payload).state is JobState.RUNNING


def test_tools_fast_status_fills_progress_metrics_and_output() -> None:
    status = _compress().parse_status(seeds.TF_COMPRESS_STATUS)

    assert (status.id, status.provider) == (seeds.TF_JOB_ID, "compress")
    assert (status.progress_percent, status.progress_phase) == (100.0, None)
    assert status.metrics == {
        "input_bytes": 10333959,
        "output_bytes": 3421187,
        "credit_cost": 1.0,
        "compression_ratio": 0.33,
        "savings_percent": 66.9,
    }
    assert status.output == OutputInfo(
        file_name="photo-compressed.jpg", content_type="image/jpeg", file_count=1
    )
    assert (status.error_code, status.error_detail, status.download_url) == (None, None, None)


def test_convert_status_without_format_or_ratios_is_complete() -> None:
    status = _convert().parse_status(seeds.TF_CONVERT_STATUS)

    assert status.provider == "convert"
    assert status.metrics == {"input_bytes": 10333959, "output_bytes": 10335712, "credit_cost": 1.0}
    assert status.output is not None
    assert status.output.file_name == "document.jpg"


def test_tools_fast_running_status_carries_phase_and_no_output() -> None:
    status = _compress().parse_status(_tf_in_progress("Running", 42.5))

    assert (status.progress_percent, status.progress_phase, status.output) == (42.5, "encode", None)


@pytest.mark.parametrize(("percent", "expected"), [(-3, 0.0), (100.4, 100.0), (55, 55.0)])
def test_tools_fast_progress_is_clamped_to_0_100(percent: float, expected: float) -> None:
    assert (
        _compress().parse_status(_tf_in_progress("Running", percent)).progress_percent == expected
    )


def test_tools_fast_failure_carries_code_and_detail() -> None:
    status = _compress().parse_status(TF_FAILED)

    assert (status.error_code, status.error_detail) == ("compress.failed", "Corrupt JPEG data")


def test_compressorapp_completed_fills_output_sha1_url_and_sizes() -> None:
    status = _compressorapp().parse_status(seeds.COMPRESSORAPP_COMPLETED)

    assert status.output == OutputInfo(
        file_name="output.mp4",
        content_type="video/mp4",
        size=31244109,
        sha1="0fa123704be4c84af340f3f6ede800ba254344c2",
    )
    assert status.download_url == seeds.COMPRESSORAPP_COMPLETED["url"]
    assert status.metrics == {"input_bytes": 84510234, "output_bytes": 31244109}
    assert status.progress_percent is None


def test_compressorapp_failure_message_is_the_detail_without_code() -> None:
    status = _compressorapp().parse_status(seeds.COMPRESSORAPP_FAILED)

    assert (status.error_code, status.error_detail) == (
        None,
        "Incoming request body does not contain a valid JSON data",
    )


def test_compressorapp_completed_without_url_is_a_bad_response() -> None:
    payload = {k: v for k, v in seeds.COMPRESSORAPP_COMPLETED.items() if k != "url"}

    with pytest.raises(BadResponseError, match=r"@ \$\.url"):
        _compressorapp().parse_status(payload)


def test_media_done_fills_output_metrics_and_download_url() -> None:
    status = _media().parse_status(seeds.MEDIA_DONE)

    assert (status.id, status.provider) == ("5c3a1b2e-...", "media")
    assert status.output == OutputInfo(
        file_name="clip.webm", content_type="video/webm", size=312000
    )
    assert status.metrics == {
        "input_bytes": 4200000,
        "output_bytes": 312000,
        "saved_bytes": 3888000,
        "saved_percent": 92.57,
        "input_duration_sec": 30.0,
        "output_duration_sec": 30.0,
        "input_width": 1920,
        "output_width": 720,
    }
    assert status.download_url == "https://..."


@pytest.mark.parametrize(
    ("base_url", "download_url", "expected"),
    [
        (MEDIA, "/api/media/jobs/j1/download", f"{MEDIA}/api/media/jobs/j1/download"),
        (f"{MEDIA}/opt", "api/media/jobs/j1/download", f"{MEDIA}/opt/api/media/jobs/j1/download"),
        (MEDIA, "https://s3.example/o.webm?sig=1", "https://s3.example/o.webm?sig=1"),
    ],
)
def test_media_download_url_is_resolved_against_base_url(
    base_url: str, download_url: str, expected: str
) -> None:
    payload = {**seeds.MEDIA_DONE, "downloadUrl": download_url}

    assert MediaJobs(base_url).parse_status(payload).download_url == expected


@pytest.mark.parametrize("download_url", ["javascript:alert(1)", "ftp://files.example/o"])
def test_media_download_url_that_is_not_http_is_a_bad_response(download_url: str) -> None:
    with pytest.raises(BadResponseError, match=r"@ \$\.downloadUrl"):
        _media().parse_status({**seeds.MEDIA_DONE, "downloadUrl": download_url})


def test_media_failure_carries_code_and_message() -> None:
    status = _media().parse_status(MEDIA_FAILED)

    assert (status.error_code, status.error_detail) == ("encode-failed", "ffmpeg exited with 1")


@pytest.mark.parametrize(
    ("make", "payload", "field"),
    [
        (
            _compress,
            {**seeds.TF_COMPRESS_STATUS, "progress": {"percent": "ninety"}},
            "$.progress.percent",
        ),
        (_compress, {**seeds.TF_COMPRESS_STATUS, "id": None}, "$.id"),
        (
            _convert,
            {**seeds.TF_CONVERT_STATUS, "metrics": {"inputBytes": 1}},
            "$.metrics.outputBytes",
        ),
        (
            _compressorapp,
            {**seeds.COMPRESSORAPP_COMPLETED, "output": {"size": "31 MB"}},
            "$.output.size",
        ),
        (_compressorapp, {"status": "processing"}, "$.id"),
        (_media, {**seeds.MEDIA_DONE, "inputBytes": "4200000"}, "$.inputBytes"),
        (
            _media,
            {**seeds.MEDIA_DONE, "result": {"outputBytes": None, "savedPercent": "92%"}},
            "$.result.savedPercent",
        ),
    ],
)
def test_a_malformed_status_names_the_field(
    make: Callable[[], Provider], payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadResponseError) as caught:
        make().parse_status(payload)

    assert f"@ {field}" in str(caught.value)
    assert str(caught.value).startswith(make().name)


@pytest.mark.parametrize(
    ("make", "payload"),
    [
        (_compress, seeds.TF_COMPRESS_STATUS),
        (_compressorapp, seeds.COMPRESSORAPP_COMPLETED),
        (_media, seeds.MEDIA_DONE),
    ],
)
def test_unknown_fields_are_tolerated_and_kept_in_raw_when_asked(
    make: Callable[[], Provider], payload: dict[str, Any]
) -> None:
    extended = {**payload, "futureField": {"nested": [1, 2]}}

    assert make().parse_status(extended, keep_raw=True).raw["futureField"] == {"nested": [1, 2]}


@pytest.mark.parametrize(
    ("make", "payload"),
    [
        (_compress, seeds.TF_COMPRESS_STATUS),
        (_compressorapp, seeds.COMPRESSORAPP_COMPLETED),
        (_media, seeds.MEDIA_DONE),
    ],
)
def test_keep_raw_keeps_the_payload_itself_not_a_copy(
    make: Callable[[], Provider], payload: dict[str, Any]
) -> None:
    assert make().parse_status(payload, keep_raw=True).raw is payload


@pytest.mark.parametrize(
    ("make", "payload"),
    [
        (_compress, seeds.TF_COMPRESS_STATUS),
        (_compressorapp, seeds.COMPRESSORAPP_COMPLETED),
        (_media, seeds.MEDIA_DONE),
    ],
)
def test_a_status_keeps_no_raw_payload_unless_asked(
    make: Callable[[], Provider], payload: dict[str, Any]
) -> None:
    assert make().parse_status(payload).raw == {}


@pytest.mark.parametrize("make", [_compress, _convert, _compressorapp, _media])
@pytest.mark.parametrize("payload", [None, [], "Succeeded"])
def test_a_payload_that_is_not_an_object_is_a_bad_response(
    make: Callable[[], Provider], payload: Any
) -> None:
    with pytest.raises(BadResponseError, match=r"expected an object @ \$"):
        make().parse_status(payload)


def test_a_bad_response_never_carries_the_api_key() -> None:
    payload = _tf_in_progress(f"leaked {API_KEY}")

    with pytest.raises(BadResponseError) as caught:
        _compress().parse_status(payload)

    assert API_KEY not in str(caught.value)


# --- submission answers ----------------------------------------------------------------


def test_tools_fast_accepted_fills_queue_stats_and_created_at() -> None:
    accepted = _compress().parse_accepted(seeds.TF_ACCEPTED)

    assert (accepted.id, accepted.provider, accepted.state) == (
        "0195e2a0-1234-7000-8000-000000000001",
        "compress",
        JobState.QUEUED,
    )
    assert accepted.queue == QueueInfo(
        pool="ImagePool", position=3, total_queued=7, estimate="< 5s", estimate_seconds=5.0
    )
    assert accepted.stats == {
        "input_p50_bytes": 4200000.0,
        "input_mean_bytes": 5100000.0,
        "sample_count": 128,
        "as_of_utc": "2026-02-23T10:00:00+00:00",
        "valid_until_utc": "2026-02-23T10:05:00+00:00",
    }
    assert accepted.created_at == datetime(2026, 2, 23, 10, 1, 0, 460000, tzinfo=UTC)
    assert accepted.raw == seeds.TF_ACCEPTED


def test_tools_fast_accepted_without_estimate_has_no_estimate_seconds() -> None:
    payload = {**seeds.TF_ACCEPTED, "queue": {**seeds.TF_ACCEPTED["queue"], "estimate": None}}

    queue = _convert().parse_accepted(payload).queue

    assert queue is not None
    assert (queue.estimate, queue.estimate_seconds) == (None, None)


def test_media_accepted_reads_created_at_from_epoch_milliseconds() -> None:
    accepted = _media().parse_accepted(seeds.MEDIA_ACCEPTED)

    assert (accepted.id, accepted.state) == ("5c3a1b2e-...", JobState.QUEUED)
    assert accepted.created_at == datetime(2025, 3, 11, 12, 0, tzinfo=UTC)
    assert accepted.queue is None


def test_media_accepted_with_an_impossible_timestamp_is_a_bad_response() -> None:
    with pytest.raises(BadResponseError, match=r"@ \$\.createdAt"):
        _media().parse_accepted({**seeds.MEDIA_ACCEPTED, "createdAt": 10**20})


def test_compressorapp_acknowledgement_is_a_queued_job() -> None:
    accepted = _compressorapp().parse_accepted(seeds.COMPRESSORAPP_ACK)

    assert (accepted.id, accepted.state) == (
        "38a8bb5e-7b50-4a22-a0a6-b9602fccb225",
        JobState.QUEUED,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("< 5s", 5.0),
        ("<5s", 5.0),
        ("~30s", 30.0),
        ("30 seconds", 30.0),
        ("2m", 120.0),
        ("1.5 min", 90.0),
        ("1-2 min", 120.0),
        ("10 to 20 sec", 20.0),
        ("about 1 hour", 3600.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("5", None),
        ("-5s", None),
    ],
)
def test_queue_estimate_is_read_as_seconds(text: str | None, seconds: float | None) -> None:
    assert parse_estimate(text) == seconds


# --- compress-only answers -------------------------------------------------------------


def test_compare_entitlements_and_compressors_parse_into_wire_models() -> None:
    provider = _compress()

    assert provider.compare(seeds.TF_JOB_ID).parse(seeds.TF_COMPARE).was_resized is False
    assert provider.entitlements().parse(seeds.TF_ENTITLEMENTS).total_credits == 4850


def test_compare_with_a_wrong_type_names_the_field() -> None:
    with pytest.raises(BadResponseError, match=r"^compress: CompareResponse: .* @ \$\.wasResized"):
        _compress().compare(seeds.TF_JOB_ID).parse({**seeds.TF_COMPARE, "wasResized": "no"})


@pytest.mark.parametrize("bad_id", ["", "a/b", "has space", "..", "../etc"])
@pytest.mark.parametrize(
    ("make", "payload"),
    [
        (_compress, lambda job_id: {**seeds.TF_COMPRESS_STATUS, "id": job_id}),
        (_compressorapp, lambda job_id: {"id": job_id, "status": "processing"}),
        (_media, lambda job_id: {"jobId": job_id, "status": "pending"}),
    ],
)
def test_a_payload_job_id_that_could_not_be_a_path_segment_is_rejected(
    make: Callable[[], Any], payload: Callable[[str], dict[str, Any]], bad_id: str
) -> None:
    with pytest.raises(BadResponseError, match="job id"):
        make().parse_status(payload(bad_id))


@pytest.mark.parametrize("url", ["http://[::1", "http://[bad"])
def test_an_unparseable_download_url_is_a_bad_response(url: str) -> None:
    payload = {**seeds.COMPRESSORAPP_COMPLETED, "url": url}
    with pytest.raises(BadResponseError):
        _compressorapp().parse_status(payload)


# --- the quick reading of plain tools.fast statuses agrees with the full one -------------------

_RUNNING_WITH_ERROR_FIELDS = {
    "id": seeds.TF_JOB_ID,
    "status": "Failed",
    "format": "png",
    "progress": {"percent": 42.5, "phase": "encode"},
    "metrics": {
        "inputBytes": 10,
        "outputBytes": 0,
        "creditCost": 0.5,
        "compressionRatio": None,
        "savingsPercent": 3,
    },
    "error": {"code": "processing.failed", "detail": f"broken with key {API_KEY}"},
    "output": None,
}
_ODD_VALUES: list[Any] = [None, "x", "", 1, 5.0, 2.5, -3, True, [], {}, float("nan"), 1e999]
_ODD_IDS: list[Any] = [".", "..", "a/b", "a b", "é", "ok-id_1.~"]
_ODD_NAMES: list[Any] = ["SUCCEEDED", "running", "Queued", "weird", "canceled"]


def _variants(payload: dict[str, Any]) -> list[Any]:
    """``payload`` with each field, nested ones included, dropped or given an odd value."""
    variants: list[Any] = [payload]
    for key, value in payload.items():
        dropped = {k: v for k, v in payload.items() if k != key}
        variants.append(dropped)
        odd = _ODD_VALUES + (_ODD_IDS if key == "id" else _ODD_NAMES if key == "status" else [])
        variants.extend({**payload, key: other} for other in odd)
        if isinstance(value, dict):
            variants.extend({**payload, key: inner} for inner in _variants(value)[1:])
    return variants


@pytest.mark.parametrize(
    "payload", [seeds.TF_COMPRESS_STATUS, seeds.TF_CONVERT_STATUS, _RUNNING_WITH_ERROR_FIELDS]
)
def test_the_quick_reading_of_a_status_agrees_with_the_full_one(payload: dict[str, Any]) -> None:
    provider = _compress()
    assert _read_plain_status(payload, "compress", False, API_KEY) is not None  # quick
    for variant in _variants(payload):
        quick = _read_plain_status(variant, "compress", False, API_KEY)
        try:
            full = provider._read_status(variant, keep_raw=False)
        except BadResponseError:
            assert quick is None, variant
        else:
            assert quick is None or quick == full, variant
