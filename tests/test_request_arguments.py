"""What aiohttp is handed for a request: the URL parsing would give, headers copied once."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from yarl import URL

from fastwait._request_arguments import RequestArguments
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress

BASES = [
    "http://127.0.0.1:8080",
    "https://api.tools.fast",
    "https://API.Example.COM:443/1.0",
    "https://api.compressor.app/1.0",
    "http://[::1]:9000/x%20y",
    "https://bücher.example/a b",
    "http://host/%7Euser/v1",
]
PLAIN = ["compress/job/019c56457340753ba9441d7b4e6516a0", "jobs/a~b_c-d.e", "jobs/x/download"]
NOT_PLAIN = ["jobs/.x", "jobs/..", "a/./b", "a/../b", "a b", "a?b=1", "a#f", "a%2Fb", "", "jobs/"]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("path", PLAIN)
def test_a_plain_path_is_built_as_parsing_would_give_it(base: str, path: str) -> None:
    url = f"{base}/{path}"
    built = RequestArguments(base).url(url)
    assert isinstance(built, URL)
    assert built == URL(url)
    assert str(built) == str(URL(url))
    assert built.raw_path == URL(url).raw_path


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("path", NOT_PLAIN)
def test_anything_else_goes_to_aiohttp_as_it_came(base: str, path: str) -> None:
    url = f"{base}/{path}"
    assert RequestArguments(base).url(url) == url


def test_a_url_elsewhere_goes_to_aiohttp_as_it_came() -> None:
    arguments = RequestArguments("https://api.tools.fast")
    for url in (
        "https://storage.example/out.jpg",
        "https://api.tools.fast.evil/x",
        "http://api.tools.fast/x",
    ):
        assert arguments.url(url) == url


@pytest.mark.parametrize(
    "provider",
    [
        ToolsFastCompress("key"),
        CompressorApp("key"),
        MediaJobs("https://media.example", token="tok"),
    ],
)
def test_a_providers_headers_are_built_once_and_copied_once(
    provider: ToolsFastCompress | CompressorApp | MediaJobs,
) -> None:
    first = provider.status_request("job1")
    second = provider.status_request("job2")
    assert first.headers is second.headers
    assert isinstance(first.headers, MappingProxyType)
    arguments = RequestArguments(provider.base_url)
    copied = arguments.headers(first.headers)
    assert dict(copied) == dict(first.headers)
    assert arguments.headers(second.headers) is copied


def test_a_mutable_header_mapping_is_never_cached() -> None:
    arguments = RequestArguments("https://api.tools.fast")
    headers = {"X-Fast-Api-Key": "key"}
    assert arguments.headers(headers) is headers
