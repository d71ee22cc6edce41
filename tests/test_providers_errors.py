"""Providers read error answers into the exception tree; Retry-After; no secret in any text."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import seed_payloads as seeds

from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ExpiredError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    ServerError,
)
from fastwait.providers import (
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
    parse_retry_after,
)
from fastwait.providers._errors import error_class

API_KEY = "fast_prod_your_key_here"
TOKEN = "media-token-123"
NOW = datetime(2026, 2, 23, 10, 0, 0, tzinfo=UTC)

TF_CLASSES: dict[str, type[ApiError]] = {
    "api_key.invalid_or_ip_not_allowed": AuthenticationError,
    "jobs.forbidden": ForbiddenError,
    "jobs.not_found": NotFoundError,
    "jobs.not_ready": NotReadyError,
    "jobs.not_cancellable": ConflictError,
    "jobs.not_deletable": ConflictError,
    "compare.not_ready": NotReadyError,
    "jobs.expired": ExpiredError,
    "compare.expired": ExpiredError,
    "compare.timeout": ServerError,
}

MEDIA_CLASSES: dict[str, type[ApiError]] = {
    "invalid-input": InvalidRequestError,
    "not-found": NotFoundError,
    "not-ready": NotReadyError,
}


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _compress() -> ToolsFastCompress:
    return ToolsFastCompress(API_KEY)


def _convert() -> ToolsFastConvert:
    return ToolsFastConvert(API_KEY)


def _compressorapp() -> CompressorApp:
    return CompressorApp(API_KEY)


def _media() -> MediaJobs:
    return MediaJobs("http://media.internal:8080", token=TOKEN)


# --- the seeds' error tables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "http_status", "code"),
    [(_compress, s, c) for s, c, _ in seeds.TF_COMPRESS_ERROR_TABLE]
    + [(_convert, s, c) for s, c, _ in seeds.TF_CONVERT_ERROR_TABLE],
)
def test_every_tools_fast_error_code_maps_to_its_exception(
    make: Callable[[], Provider], http_status: int, code: str
) -> None:
    body = _body({"error": code, "detail": "because"})

    error = make().parse_error(http_status, body, {})

    assert type(error) is TF_CLASSES[code]
    assert (error.status, error.code, error.detail, error.retry_after) == (
        http_status,
        code,
        "because",
        None,
    )


@pytest.mark.parametrize(
    ("payload", "cls", "detail"),
    [
        (seeds.TF_ERROR_NOT_FOUND, NotFoundError, None),
        (seeds.TF_ERROR_NOT_READY, NotReadyError, "Job is still processing or waiting to start."),
    ],
)
def test_the_seed_error_examples_keep_code_and_detail(
    payload: dict[str, Any], cls: type[ApiError], detail: str | None
) -> None:
    status = 404 if cls is NotFoundError else 409

    error = _compress().parse_error(status, _body(payload), {})

    assert (type(error), error.code, error.detail) == (cls, payload["error"], detail)


@pytest.mark.parametrize(
    ("http_status", "cls", "transient"),
    [
        (400, InvalidRequestError, False),
        (413, InvalidRequestError, False),
        (415, InvalidRequestError, False),
        (422, InvalidRequestError, False),
        (401, AuthenticationError, False),
        (403, ForbiddenError, False),
        (404, NotFoundError, False),
        (409, ConflictError, False),
        (410, ExpiredError, False),
        (429, RateLimitedError, True),
        (500, ServerError, True),
        (501, ServerError, False),
        (502, ServerError, True),
        (503, ServerError, True),
        (504, ServerError, True),
        (418, ApiError, False),
    ],
)
@pytest.mark.parametrize("make", [_compress, _convert, _compressorapp, _media])
def test_the_status_decides_the_class_and_transient_flag(
    make: Callable[[], Provider], http_status: int, cls: type[ApiError], transient: bool
) -> None:
    error = make().parse_error(http_status, b"", {})

    assert type(error) is cls
    assert error.transient is transient
    assert (error.status, error.code, error.detail) == (http_status, None, None)


def test_request_errors_keep_the_tools_fast_code() -> None:
    error = _compress().parse_error(415, _body(seeds.TF_ERROR_INVALID_EXTENSION), {})

    assert (type(error), error.code) == (InvalidRequestError, "request.invalid_extension")
    assert error.detail == "File extension '.mp3' is not accepted by this compressor."


def test_compare_timeout_is_a_transient_server_error() -> None:
    error = _compress().parse_error(504, _body({"error": "compare.timeout", "detail": None}), {})

    assert isinstance(error, ServerError)
    assert error.transient is True


def test_a_not_ready_code_refines_only_a_409() -> None:
    assert error_class(409, "jobs.not_ready", {"jobs.not_ready"}) is NotReadyError
    assert error_class(400, "jobs.not_ready", {"jobs.not_ready"}) is InvalidRequestError
    assert error_class(409, "jobs.not_cancellable", {"jobs.not_ready"}) is ConflictError


@pytest.mark.parametrize(("http_status", "code", "description"), seeds.MEDIA_ERROR_TABLE)
@pytest.mark.parametrize(
    "envelope",
    [
        lambda code, text: {"error": {"code": code, "message": text}},
        lambda code, text: {"error": code, "message": text},
    ],
)
def test_every_media_error_code_maps_in_either_envelope(
    envelope: Callable[[str, str], dict[str, Any]], http_status: int, code: str, description: str
) -> None:
    error = _media().parse_error(http_status, _body(envelope(code, description)), {})

    assert type(error) is MEDIA_CLASSES[code]
    assert (error.status, error.code, error.detail) == (http_status, code, description)


@pytest.mark.parametrize(
    ("http_status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
    ],
)
def test_compressorapp_message_is_the_detail_and_status_the_class(
    http_status: int, cls: type[ApiError]
) -> None:
    body = _body(
        {"success": False, "message": "Incoming request body does not contain a valid JSON data"}
    )

    error = _compressorapp().parse_error(http_status, body, {})

    assert type(error) is cls
    assert error.code is None
    assert error.detail == "Incoming request body does not contain a valid JSON data"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"error": ',
        b"[1, 2]",
        b'"jobs.not_found"',
        b'{"error": 42, "detail": "x"}',
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
    ],
)
@pytest.mark.parametrize("make", [_compress, _compressorapp, _media])
def test_a_body_that_is_not_the_envelope_still_yields_an_error_by_status(
    make: Callable[[], Provider], body: bytes
) -> None:
    error = make().parse_error(502, body, {})

    assert type(error) is ServerError
    assert (error.code, error.detail) == (None, None)


# --- secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "secret", "body"),
    [
        (
            _compress,
            API_KEY,
            {"error": "api_key.invalid_or_ip_not_allowed", "detail": f"key {API_KEY} is invalid"},
        ),
        (_convert, API_KEY, {"error": f"bad.{API_KEY}", "detail": None}),
        (_compressorapp, API_KEY, {"success": False, "message": f"Unknown key {API_KEY}"}),
        (_media, TOKEN, {"error": {"code": "unauthorized", "message": f"token {TOKEN} expired"}}),
    ],
)
def test_an_echoed_secret_is_stripped_from_code_detail_and_message(
    make: Callable[[], Provider], secret: str, body: dict[str, Any]
) -> None:
    error = make().parse_error(401, _body(body), {})

    for text in (str(error), repr(error), error.code or "", error.detail or ""):
        assert secret not in text
    assert "[redacted]" in str(error)


def test_an_echoed_basic_credential_is_stripped_too() -> None:
    provider = _compressorapp()
    encoded = provider.status_request("j1").headers["Authorization"].split(" ", 1)[1]

    error = provider.parse_error(401, _body({"message": f"bad credentials {encoded}"}), {})

    assert encoded not in str(error)


# --- Retry-After -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER"])
@pytest.mark.parametrize("make", [_compress, _compressorapp, _media])
def test_retry_after_header_is_read_case_insensitively(
    make: Callable[[], Provider], name: str
) -> None:
    error = make().parse_error(429, b"", {name: "7"})

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0


def test_retry_after_as_http_date_is_measured_from_now() -> None:
    later = "Mon, 23 Feb 2026 10:01:30 GMT"

    error = _compress().parse_error(503, b"", {"Retry-After": later}, now=NOW)

    assert error.retry_after == 90.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("1.5", 1.5),
        ("Mon, 23 Feb 2026 10:02:00 GMT", 120.0),
        ("Monday, 23-Feb-26 10:02:00 GMT", 120.0),
        ("Mon Feb 23 10:02:00 2026", 120.0),
        ("Mon, 23 Feb 2026 09:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("5s", None),
        ("inf", None),
        ("nan", None),
        ("Mon, 99 Feb 2026 10:02:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_takes_a_naive_now_as_utc() -> None:
    naive = NOW.replace(tzinfo=None) - timedelta(seconds=10)

    assert parse_retry_after("Mon, 23 Feb 2026 10:00:00 GMT", naive) == 10.0
