"""What a provider gets without writing it: the defaults of ``Provider`` and ``ApiRequest``.

A status-only provider writes two methods; every other operation either says the API has no
such endpoint or reads the answer by the conventions of JSON APIs (errors by HTTP status with
``Retry-After``, ``{"id"}`` on submit, the status' download URL), and requests carry JSON or
raw bodies as well as multipart ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from example_job_api import API_KEY, serve_example_api

from fastwait import Client, JobState, JobStatus
from fastwait.exceptions import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    ConfigurationError,
    ConflictError,
    ExpiredError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnsupportedOperationError,
)
from fastwait.providers import ApiRequest, Provider, api_error, require_job_id

BASE = "https://jobs.example.com"


class Minimal(Provider):
    """The least a provider can be: a name, a status request, a status reading."""

    name = "minimal"

    def __init__(self, api_key: str = "key-123", base_url: str = BASE) -> None:
        self.api_key = api_key
        self.base_url = base_url

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,)

    def status_request(self, job_id: str) -> ApiRequest:
        url = f"{self.base_url}/v1/jobs/{require_job_id(job_id)}"
        return ApiRequest("GET", url, {"Authorization": f"Bearer {self.api_key}"})

    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        return JobStatus(payload["id"], self.name, JobState.SUCCEEDED, download_url=payload["url"])


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "InvalidRequestError"),
        (401, "AuthenticationError"),
        (403, "ForbiddenError"),
        (404, "NotFoundError"),
        (409, "ConflictError"),
        (410, "ExpiredError"),
        (429, "RateLimitedError"),
        (500, "ServerError"),
        (503, "ServerError"),
        (418, "ApiError"),
    ],
)
def test_an_error_answer_is_the_exception_its_http_status_calls_for(
    status: int, error: str
) -> None:
    assert type(Minimal().parse_error(status, b"", {})).__name__ == error


def test_rate_limits_and_server_errors_are_transient_and_read_retry_after() -> None:
    limited = Minimal().parse_error(429, b"", {"retry-after": "7"})
    assert isinstance(limited, RateLimitedError)
    assert (limited.transient, limited.retry_after) == (True, 7.0)
    unavailable = Minimal().parse_error(503, b"", {"Retry-After": "2"})
    assert isinstance(unavailable, ServerError)
    assert (unavailable.transient, unavailable.retry_after) == (True, 2.0)
    for permanent in (AuthenticationError, ForbiddenError, NotFoundError, ConflictError):
        assert not permanent(400, None, None).transient
    assert not ExpiredError(410, None, None).transient


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (b'{"code": "quota", "message": "no credits left"}', "quota", "no credits left"),
        (b'{"error": "bad_input", "detail": "size"}', "bad_input", "size"),
        (b'{"type": "about:blank", "title": "Too busy"}', None, "Too busy"),
        (b'{"error": {"nested": true}, "error_description": "x"}', None, "x"),
        (b"<html>502 Bad Gateway</html>", None, None),
        (b"[1, 2]", None, None),
        (b"", None, None),
    ],
)
def test_the_default_error_reading_takes_the_common_envelope_fields(
    body: bytes, code: str | None, detail: str | None
) -> None:
    error = Minimal().parse_error(400, body, {})
    assert (error.code, error.detail) == (code, detail)


def test_the_default_error_reading_removes_the_providers_secrets() -> None:
    error = Minimal("key-123").parse_error(401, b'{"message": "key key-123 is revoked"}', {})
    assert error.detail == "key [redacted] is revoked"
    assert "key-123" not in str(error)


def test_api_error_is_the_rule_a_provider_with_its_own_envelope_calls() -> None:
    error = api_error(
        429,
        "slow_down",
        "secret-9 is throttled",
        {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
        secrets=["secret-9"],
        now=datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC),
    )
    assert isinstance(error, RateLimitedError)
    assert (error.code, error.detail, error.retry_after) == (
        "slow_down",
        "[redacted] is throttled",
        30.0,
    )
    assert type(api_error(500, None, None, {})) is ServerError
    assert type(api_error(302, None, None, {})) is ApiError


def test_what_a_provider_does_not_write_is_unsupported_naming_it() -> None:
    provider = Minimal()
    operations: list[Callable[[], ApiRequest]] = [
        lambda: provider.submit_request("a.jpg", {}),
        lambda: provider.cancel_request("j-1"),
        lambda: provider.delete_request("j-1"),
        lambda: provider.download_request("j-1", None),
    ]
    for operation in operations:
        with pytest.raises(UnsupportedOperationError, match="minimal"):
            operation()


def test_the_default_download_sends_credentials_only_to_the_apis_own_origin() -> None:
    provider = Minimal()
    own = provider.parse_status({"id": "j-1", "url": f"{BASE}/files/j-1"})
    elsewhere = provider.parse_status({"id": "j-1", "url": "https://bucket.example/j-1?sig=x"})
    assert provider.download_request("j-1", own).headers == {"Authorization": "Bearer key-123"}
    assert provider.download_request("j-1", elsewhere).headers == {}
    assert provider.download_request("j-1", elsewhere).url == "https://bucket.example/j-1?sig=x"
    with pytest.raises(UnsupportedOperationError):
        provider.download_request("j-2", own)  # another job's status


def test_the_default_submit_answer_is_an_id() -> None:
    accepted = Minimal().parse_accepted({"id": "j-9", "extra": 1})
    assert (accepted.id, accepted.provider, accepted.state) == ("j-9", "minimal", JobState.QUEUED)
    assert accepted.raw == {"id": "j-9", "extra": 1}
    payloads: list[Any] = [{}, {"id": 7}, [], {"id": "../up"}]
    for payload in payloads:
        with pytest.raises(BadResponseError, match=r"@ \$\.id"):
            Minimal().parse_accepted(payload)


def test_a_request_has_one_body_at_most() -> None:
    with pytest.raises(ConfigurationError, match="one body, not json and content"):
        ApiRequest("POST", BASE, json={"a": 1}, content=b"x")
    with pytest.raises(ConfigurationError, match="one body, not multipart and json"):
        ApiRequest("POST", BASE, fields={"a": "1"}, json={"a": 1})
    with pytest.raises(ConfigurationError, match="content must be bytes"):
        ApiRequest("POST", BASE, content="text")  # type: ignore[arg-type]
    assert not ApiRequest("GET", BASE).has_body
    assert ApiRequest("POST", BASE, json=[]).has_body


def test_a_requests_repr_shows_no_header_nor_body() -> None:
    request = ApiRequest("POST", BASE, {"Authorization": "Bearer key-123"}, json={"k": "key-123"})
    assert "key-123" not in repr(request)
    assert "key-123" not in repr(ApiRequest("PUT", BASE, content=b"key-123"))


class RawSubmit(Minimal):
    """Submits with a body of raw bytes it builds itself, or a JSON value it names."""

    name = "raw-submit"

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        if options.get("as") == "json":
            return ApiRequest("POST", f"{self.base_url}/v1/jobs", headers, json={"input_url": {1}})
        body = b'{"input_url": "' + options["input_url"].encode() + b'"}'
        return ApiRequest("POST", f"{self.base_url}/v1/jobs", headers, content=body)


async def test_a_raw_body_is_sent_as_it_is() -> None:
    async with serve_example_api() as api, Client(RawSubmit(API_KEY, api.url)) as client:
        accepted = await client.submit(input_url="https://example.com/raw.png")
    assert accepted.id == "j-2"
    assert api.submitted == [("application/json", {"input_url": "https://example.com/raw.png"})]


async def test_a_json_body_json_cannot_carry_is_refused_before_it_is_sent() -> None:
    async with serve_example_api() as api, Client(RawSubmit(API_KEY, api.url)) as client:
        with pytest.raises(ConfigurationError, match="json body is not JSON"):
            await client.submit(**{"as": "json"})
    assert api.submitted == []


async def test_a_multipart_submit_without_a_file_is_refused_before_it_is_sent() -> None:
    class Upload(Minimal):
        name = "upload"

        def submit_request(
            self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
        ) -> ApiRequest:
            return ApiRequest("POST", f"{self.base_url}/v1/jobs", file_field="file")

    async with serve_example_api() as api, Client(Upload(API_KEY, api.url)) as client:
        with pytest.raises(ConfigurationError, match="the upload API submits a file"):
            await client.submit()
    assert api.submitted == []
