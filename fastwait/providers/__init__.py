"""The job APIs fastwait speaks, each as a sans-I/O :class:`Provider`.

Each API's knowledge (URLs, headers, status names, payload shapes, error codes) lives in one
module; its translation from payload to :class:`fastwait.JobStatus` is pure and shared by the
poller and the webhook receiver. The response models of tools.fast's own endpoints
(:class:`CompareResponse`, :class:`GetCompressorsResponse`, :class:`EntitlementsResponse`) are
exported here because :class:`fastwait.Client` returns them.

Any other JSON job API can be declared as data instead of code: an :class:`ApiSpec` (written
in Python, or in a TOML file read by :func:`load_spec`) compiles into a
:class:`DeclaredProvider`; :func:`microsoft_operation` and :func:`google_operation` are the
specs of two public conventions. See ``docs/guides/declared-api.md``.

``PROVIDERS`` maps the names the CLI, registry keys and webhook routes use to the classes;
:func:`provider_class` looks one up with an error that lists the valid names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fastwait.exceptions import ConfigurationError
from fastwait.providers._base import ApiRequest, Provider
from fastwait.providers._compressorapp import CompressorApp
from fastwait.providers._declared import DeclaredProvider
from fastwait.providers._headers import parse_retry_after
from fastwait.providers._media import MediaJobs
from fastwait.providers._presets import google_operation, microsoft_operation
from fastwait.providers._spec import ApiSpec, Auth, Cancel, ErrorBody, States, Status, Submit
from fastwait.providers._spec_files import load_spec, spec_from_dict
from fastwait.providers._toolsfast import ToolsFastCompress, ToolsFastConvert
from fastwait.providers._wire import (
    CompareResponse,
    CompressorItem,
    DiscoveryCostingInfo,
    EntitlementsResponse,
    FormatOption,
    GetCompressorsResponse,
)

__all__ = [
    "PROVIDERS",
    "ApiRequest",
    "ApiSpec",
    "Auth",
    "Cancel",
    "CompareResponse",
    "CompressorApp",
    "CompressorItem",
    "DeclaredProvider",
    "DiscoveryCostingInfo",
    "EntitlementsResponse",
    "ErrorBody",
    "FormatOption",
    "GetCompressorsResponse",
    "MediaJobs",
    "Provider",
    "States",
    "Status",
    "Submit",
    "ToolsFastCompress",
    "ToolsFastConvert",
    "google_operation",
    "load_spec",
    "microsoft_operation",
    "parse_retry_after",
    "provider_class",
    "spec_from_dict",
]

PROVIDERS: Mapping[str, type[Provider]] = MappingProxyType(
    {cls.name: cls for cls in (ToolsFastCompress, ToolsFastConvert, CompressorApp, MediaJobs)}
)


def provider_class(name: str) -> type[Provider]:
    """The provider class registered under ``name``; ConfigurationError for an unknown name."""
    try:
        return PROVIDERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(f"unknown provider {name!r} (known: {known})") from None
