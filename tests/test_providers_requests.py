"""Providers turn intentions into ApiRequest values: URLs, methods, headers, fields, checks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import ClassVar

import pytest
import seed_payloads as seeds

import fastwait.providers
from fastwait._models import JobState, JobStatus
from fastwait.cli._wait import build_provider
from fastwait.exceptions import ConfigurationError, UnsupportedOperationError
from fastwait.providers import (
    PROVIDERS,
    ApiRequest,
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
    provider_class,
)
from fastwait.receiver import receiving_providers

API_KEY = "fast_prod_your_key_here"
TOKEN = "media-token-123"
JOB = seeds.TF_JOB_ID
TF = "https://api.tools.fast"
CA = "https://api.compressor.app/1.0"
MEDIA = "http://media.internal:8080"
TF_AUTH = {"X-Fast-Api-Key": API_KEY}
CA_BASIC = {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}
MEDIA_AUTH = {"Authorization": f"Bearer {TOKEN}"}


BuiltIn = ToolsFastCompress | ToolsFastConvert | CompressorApp | MediaJobs


def _base_url(provider: Provider) -> str:
    """A built-in's API root (the ``Provider`` interface itself requires none)."""
    assert isinstance(provider, BuiltIn)
    return provider.base_url


def _compress() -> ToolsFastCompress:
    return ToolsFastCompress(API_KEY)


def _convert() -> ToolsFastConvert:
    return ToolsFastConvert(API_KEY)


def _compressorapp() -> CompressorApp:
    return CompressorApp(API_KEY)


def _media() -> MediaJobs:
    return MediaJobs(MEDIA, token=TOKEN)


ALL_PROVIDERS: list[Callable[[], Provider]] = [_compress, _convert, _compressorapp, _media]


# --- registry --------------------------------------------------------------------------


def test_providers_are_registered_under_their_cli_names() -> None:
    assert dict(PROVIDERS) == {
        "compress": ToolsFastCompress,
        "convert": ToolsFastConvert,
        "compressorapp": CompressorApp,
        "media": MediaJobs,
    }


def test_provider_class_finds_a_provider_by_name() -> None:
    assert provider_class("media") is MediaJobs


def test_provider_class_lists_the_known_names_for_an_unknown_one() -> None:
    with pytest.raises(ConfigurationError, match="compress, compressorapp, convert, media"):
        provider_class("zip")


class _Thumbnails(ToolsFastCompress):
    """A provider added as docs/architecture.md says: its constructor is (api_key, base_url)."""

    name: ClassVar[str] = "thumbnails"


def test_a_provider_with_the_usual_constructor_is_built_from_settings_as_its_own_class() -> None:
    built = _Thumbnails.from_settings(API_KEY, "http://thumbnails.test")
    assert type(built) is _Thumbnails
    assert built.base_url == "http://thumbnails.test"
    assert _Thumbnails.from_settings(API_KEY, None).base_url == TF


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_the_cli_and_the_receiver_build_each_provider_by_its_registered_class(name: str) -> None:
    for_wait = build_provider(name, MEDIA, API_KEY)
    (for_receiver,) = receiving_providers([name], [MEDIA])
    assert type(for_wait) is type(for_receiver) is provider_class(name)
    assert _base_url(for_wait) == _base_url(for_receiver) == MEDIA


@pytest.mark.parametrize("name", ["compress", "convert", "compressorapp"])
def test_settings_without_an_api_key_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        provider_class(name).from_settings(None, None)


def test_media_settings_without_a_base_url_are_refused_and_the_token_is_optional() -> None:
    with pytest.raises(ConfigurationError, match="base URL"):
        MediaJobs.from_settings(TOKEN, None)
    assert MediaJobs.from_settings(None, MEDIA).status_request(JOB).headers == {}


def test_the_package_exports_exactly_its_public_names() -> None:
    assert all(hasattr(fastwait.providers, name) for name in fastwait.providers.__all__)
    assert set(fastwait.providers.__all__) == {
        "PROVIDERS",
        "ApiRequest",
        "ApiSpec",
        "Auth",
        "Cancel",
        "DeclaredProvider",
        "ErrorBody",
        "States",
        "Status",
        "Submit",
        "google_operation",
        "load_spec",
        "microsoft_operation",
        "spec_from_dict",
        "CompareResponse",
        "CompressorItem",
        "DiscoveryCostingInfo",
        "EntitlementsResponse",
        "FormatOption",
        "GetCompressorsResponse",
        "CompressorApp",
        "MediaJobs",
        "Provider",
        "ToolsFastCompress",
        "ToolsFastConvert",
        "parse_retry_after",
        "provider_class",
        # for providers users write and install (docs/guides/provider-plugins.md)
        "ApiCall",
        "InstalledProvider",
        "api_error",
        "installed_providers",
        "job_state",
        "payload_job_id",
        "redact",
        "require_base_url",
        "require_job_id",
        "require_secret",
        "resolve_download_url",
        "same_origin",
    }


def test_only_tools_fast_reports_progress() -> None:
    assert {name: cls.reports_progress for name, cls in PROVIDERS.items()} == {
        "compress": True,
        "convert": True,
        "compressorapp": False,
        "media": False,
    }


# --- constructors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: ToolsFastCompress(API_KEY), TF),
        (lambda: ToolsFastConvert(API_KEY, "https://eu.tools.fast//"), "https://eu.tools.fast"),
        (lambda: CompressorApp(API_KEY), CA),
        (lambda: CompressorApp(API_KEY, CA + "/"), CA),
        (lambda: MediaJobs("http://127.0.0.1:8080/media/"), "http://127.0.0.1:8080/media"),
    ],
)
def test_base_url_defaults_and_loses_its_trailing_slash(
    make: Callable[[], Provider], expected: str
) -> None:
    assert _base_url(make()) == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "api.tools.fast",
        "ftp://api.tools.fast",
        "https://",
        "https:///path",
        "https://user:pw@api.tools.fast",
        "https://api.tools.fast?x=1",
        "https://api.tools.fast/#frag",
        "https://api.tools.fast:99999",
        "https://api.tools .fast",
        "https://api.tools.fast\r\nX: y",
    ],
)
@pytest.mark.parametrize(
    "make",
    [
        lambda url: ToolsFastCompress(API_KEY, url),
        lambda url: ToolsFastConvert(API_KEY, url),
        lambda url: CompressorApp(API_KEY, url),
        lambda url: MediaJobs(url),
    ],
)
def test_a_base_url_that_is_not_http_with_a_host_is_refused(
    make: Callable[[str], Provider], base_url: str
) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        make(base_url)


@pytest.mark.parametrize("api_key", ["", "   ", "key with space", "key\r\nX-Injected: 1"])
@pytest.mark.parametrize("cls", [ToolsFastCompress, ToolsFastConvert, CompressorApp])
def test_an_empty_or_unsafe_api_key_is_refused(
    cls: Callable[[str], Provider], api_key: str
) -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        cls(api_key)


def test_an_empty_media_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="token"):
        MediaJobs(MEDIA, token="")


def test_compressorapp_refuses_a_colon_in_a_basic_user_name() -> None:
    with pytest.raises(ConfigurationError, match="':'") as caught:
        CompressorApp("user:secret")

    assert "secret" not in str(caught.value)


def test_compressorapp_refuses_an_unknown_auth_scheme() -> None:
    with pytest.raises(ConfigurationError, match="basic"):
        CompressorApp(API_KEY, auth="digest")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ToolsFastCompress(API_KEY),
        lambda: ToolsFastConvert(API_KEY),
        lambda: CompressorApp(API_KEY),
        lambda: CompressorApp(API_KEY, auth="bearer"),
        lambda: MediaJobs(MEDIA, token=API_KEY),
    ],
)
def test_the_secret_is_absent_from_repr_and_str(make: Callable[[], Provider]) -> None:
    provider = make()
    encoded = base64.b64encode(f"{API_KEY}:".encode()).decode()

    for text in (repr(provider), str(provider), repr(provider.status_request(JOB))):
        assert API_KEY not in text
        assert encoded not in text


# --- request tables --------------------------------------------------------------------


def _requests(provider: Provider) -> dict[str, Callable[[], ApiRequest]]:
    return {
        "status": lambda: provider.status_request(JOB),
        "download": lambda: provider.download_request(JOB, None),
        "cancel": lambda: provider.cancel_request(JOB),
        "delete": lambda: provider.delete_request(JOB),
    }


@pytest.mark.parametrize(
    ("make", "operation", "method", "url", "headers"),
    [
        (_compress, "status", "GET", f"{TF}/compress/job/{JOB}", TF_AUTH),
        (_compress, "download", "GET", f"{TF}/compress/job/{JOB}/download", TF_AUTH),
        (_compress, "cancel", "POST", f"{TF}/compress/job/{JOB}/cancel", TF_AUTH),
        (_compress, "delete", "DELETE", f"{TF}/compress/job/{JOB}", TF_AUTH),
        (_convert, "status", "GET", f"{TF}/convert/job/{JOB}", TF_AUTH),
        (_convert, "download", "GET", f"{TF}/convert/job/{JOB}/download", TF_AUTH),
        (_convert, "cancel", "POST", f"{TF}/convert/job/{JOB}/cancel", TF_AUTH),
        (_convert, "delete", "DELETE", f"{TF}/convert/job/{JOB}", TF_AUTH),
        (_compressorapp, "status", "GET", f"{CA}/jobs/{JOB}", CA_BASIC),
        (_media, "status", "GET", f"{MEDIA}/api/media/jobs/{JOB}", MEDIA_AUTH),
        (_media, "download", "GET", f"{MEDIA}/api/media/jobs/{JOB}/download", MEDIA_AUTH),
    ],
)
def test_job_requests_address_the_documented_endpoints(
    make: Callable[[], Provider], operation: str, method: str, url: str, headers: dict[str, str]
) -> None:
    request = _requests(make())[operation]()

    assert (request.method, request.url, dict(request.headers)) == (method, url, headers)
    assert request.file_field is None
    assert dict(request.fields) == {}


@pytest.mark.parametrize(
    ("make", "operation"),
    [
        (_compressorapp, "cancel"),
        (_compressorapp, "delete"),
        (_compressorapp, "download"),
        (_media, "cancel"),
        (_media, "delete"),
    ],
)
def test_operations_without_a_documented_endpoint_are_unsupported(
    make: Callable[[], Provider], operation: str
) -> None:
    with pytest.raises(UnsupportedOperationError):
        _requests(make())[operation]()


@pytest.mark.parametrize(
    ("operation", "url"),
    [
        (lambda p: p.compare(JOB).request, f"{TF}/compress/job/{JOB}/compare"),
        (lambda p: p.compressors().request, f"{TF}/compress/compressors"),
        (lambda p: p.entitlements().request, f"{TF}/compress/entitlements/me"),
    ],
)
def test_compress_only_requests_are_authenticated_gets(
    operation: Callable[[ToolsFastCompress], ApiRequest], url: str
) -> None:
    request = operation(_compress())

    assert (request.method, request.url, dict(request.headers)) == ("GET", url, TF_AUTH)


def test_compressorapp_bearer_sends_the_key_as_token() -> None:
    request = CompressorApp(API_KEY, auth="bearer").status_request(JOB)

    assert dict(request.headers) == {"Authorization": f"Bearer {API_KEY}"}


def test_media_without_token_sends_no_authorization() -> None:
    assert dict(MediaJobs(MEDIA).status_request(JOB).headers) == {}


# --- submission ------------------------------------------------------------------------


def test_compress_submits_the_file_and_options_as_multipart() -> None:
    request = _compress().submit_request("photo.jpg", {"quality": "80"})

    assert (request.method, request.url) == ("POST", f"{TF}/compress")
    assert request.file_field == "file"
    assert dict(request.fields) == {"quality": "80"}
    assert dict(request.headers) == TF_AUTH


def test_convert_submits_the_target_format() -> None:
    request = _convert().submit_request("doc.pdf", {"targetFormat": "jpg"})

    assert (request.method, request.url, request.file_field) == ("POST", f"{TF}/convert", "file")
    assert dict(request.fields) == {"targetFormat": "jpg"}


@pytest.mark.parametrize("options", [{}, {"targetFormat": ""}, {"target_format": "jpg"}])
def test_convert_without_target_format_is_a_configuration_error(options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="targetFormat"):
        _convert().submit_request("doc.pdf", options)


@pytest.mark.parametrize(
    ("make", "options"),
    [(_compress, {}), (_convert, {"targetFormat": "png"}), (_media, {})],
)
def test_a_callback_url_is_sent_as_callback_url_field(
    make: Callable[[], Provider], options: dict[str, str]
) -> None:
    request = make().submit_request("f.jpg", options, "https://me.example/hooks/1")

    assert request.fields["callbackUrl"] == "https://me.example/hooks/1"


@pytest.mark.parametrize("callback_url", ["not a url", "ftp://me.example/x", "/relative"])
def test_a_callback_url_must_be_http(callback_url: str) -> None:
    with pytest.raises(ConfigurationError, match="callback_url"):
        _compress().submit_request("f.jpg", {}, callback_url)


def test_a_callback_url_given_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="once"):
        _compress().submit_request(
            "f.jpg", {"callbackUrl": "https://a.example"}, "https://b.example"
        )


def test_media_submits_the_file_as_media_with_the_default_preset() -> None:
    request = _media().submit_request("clip.mp4", {})

    assert (request.method, request.url) == ("POST", f"{MEDIA}/api/media/jobs")
    assert request.file_field == "media"
    assert dict(request.fields) == {"preset": "web"}
    assert dict(request.headers) == MEDIA_AUTH


def test_media_sends_the_chosen_preset() -> None:
    request = _media().submit_request("clip.mp4", {"preset": "low-bandwidth"})

    assert dict(request.fields) == {"preset": "low-bandwidth"}


def test_compressorapp_cannot_submit() -> None:
    with pytest.raises(UnsupportedOperationError, match="by id"):
        _compressorapp().submit_request("f.mp4", {})


def test_submit_options_must_be_strings() -> None:
    with pytest.raises(ConfigurationError, match="strings"):
        _compress().submit_request("f.jpg", {"quality": 80})  # type: ignore[dict-item]


# --- job ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id", ["", ".", "..", "a/b", "../admin", "a b", "a?b", "a#b", "a%2Fb", "é", "a\nb"]
)
@pytest.mark.parametrize("make", ALL_PROVIDERS)
def test_a_job_id_that_could_change_the_path_is_refused(
    make: Callable[[], Provider], job_id: str
) -> None:
    with pytest.raises(ConfigurationError, match="job id"):
        make().status_request(job_id)


@pytest.mark.parametrize(
    "job_id",
    ["019c56457340753ba9441d7b4e6516a0", "0195e2a0-1234-7000-8000-000000000001", "a.b_c~d"],
)
def test_a_job_id_of_unreserved_characters_is_one_path_segment(job_id: str) -> None:
    assert _compress().status_request(job_id).url == f"{TF}/compress/job/{job_id}"


# --- downloads and credentials ---------------------------------------------------------


def _done(job_id: str, url: str) -> JobStatus:
    return JobStatus(id=job_id, provider="media", state=JobState.SUCCEEDED, download_url=url)


@pytest.mark.parametrize(
    ("make", "url", "headers"),
    [
        (_media, f"{MEDIA}/api/media/jobs/{JOB}/download", MEDIA_AUTH),
        (_media, "HTTP://MEDIA.internal:8080/elsewhere", MEDIA_AUTH),
        (_media, "https://media.internal:8080/x", {}),
        (_media, "http://media.internal:8081/x", {}),
        (_media, "http://media.internal/x", {}),
        (_media, "https://bucket.s3.amazonaws.com/out.webm?X-Amz-Signature=abc", {}),
        (_compressorapp, seeds.COMPRESSORAPP_COMPLETED["url"], CA_BASIC),
        (_compressorapp, "https://api.compressor.app:443/x/output.mp4", CA_BASIC),
        (_compressorapp, "https://cdn.compressor.app/x/output.mp4", {}),
        (_compress, "https://api.tools.fast/files/1", TF_AUTH),
        (_compress, "https://storage.example/files/1", {}),
    ],
)
def test_download_credentials_go_only_to_the_api_origin(
    make: Callable[[], Provider], url: str, headers: dict[str, str]
) -> None:
    request = make().download_request(JOB, _done(JOB, url))

    assert (request.method, request.url, dict(request.headers)) == ("GET", url, headers)


def test_a_status_of_another_job_does_not_redirect_the_download() -> None:
    request = _media().download_request(JOB, _done("other", "https://evil.example/x"))

    assert request.url == f"{MEDIA}/api/media/jobs/{JOB}/download"


def test_a_status_without_url_uses_the_download_endpoint() -> None:
    status = JobStatus(id=JOB, provider="compress", state=JobState.SUCCEEDED)

    assert _compress().download_request(JOB, status).url == f"{TF}/compress/job/{JOB}/download"


def test_compressorapp_downloads_from_the_status_url() -> None:
    provider = _compressorapp()
    status = provider.parse_status(seeds.COMPRESSORAPP_COMPLETED)

    request = provider.download_request(status.id, status)

    assert request.url == seeds.COMPRESSORAPP_COMPLETED["url"]


def test_the_download_job_id_is_checked_even_with_a_url() -> None:
    with pytest.raises(ConfigurationError, match="job id"):
        _media().download_request("../x", _done("../x", f"{MEDIA}/x"))
