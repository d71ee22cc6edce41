"""The job APIs fastwait speaks, each as a sans-I/O :class:`Provider`, and how to add your own.

Each API's knowledge (URLs, headers, status names, payload shapes, error codes) lives in one
module; its translation from payload to :class:`fastwait.JobStatus` is pure and shared by the
poller and the webhook receiver. A provider of your own is a :class:`Provider` subclass with a
``name``, :meth:`Provider.status_request` and :meth:`Provider.parse_status` (the rest is
optional); the rules the built-ins follow are exported for it: :func:`api_error` (an error
answer as the exception its HTTP status calls for), :func:`parse_retry_after`, :func:`redact`,
:func:`require_job_id` and :func:`payload_job_id` (ids safe in a URL path),
:func:`require_base_url`, :func:`require_secret`, :func:`resolve_download_url`,
:func:`same_origin` and :func:`job_state`. Operations beyond the job lifecycle are
:class:`ApiCall` values a provider returns and :meth:`fastwait.Client.call` runs, as tools.fast
compress does with :class:`CompareResponse`, :class:`GetCompressorsResponse` and
:class:`EntitlementsResponse`.

Any other JSON job API can be declared as data instead of code: an :class:`ApiSpec` (written
in Python, or in a TOML file read by :func:`load_spec`) compiles into a
:class:`DeclaredProvider`; :func:`microsoft_operation` and :func:`google_operation` are the
specs of two public conventions. See ``docs/guides/declared-api.md``.

Providers are found by name in the ``fastwait.providers`` entry-point group, where the
built-ins are declared too: :func:`installed_providers` lists them with their origin and
:func:`provider_class` imports the one a name stands for. ``PROVIDERS`` maps the four
built-ins' names to their classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fastwait.providers._base import ApiCall, ApiRequest, Provider
from fastwait.providers._compressorapp import CompressorApp
from fastwait.providers._declared import DeclaredProvider
from fastwait.providers._errors import api_error, redact
from fastwait.providers._headers import parse_retry_after
from fastwait.providers._installed import (
    InstalledProvider,
    installed_providers,
    provider_class,
)
from fastwait.providers._media import MediaJobs
from fastwait.providers._presets import google_operation, microsoft_operation
from fastwait.providers._spec import ApiSpec, Auth, Cancel, ErrorBody, States, Status, Submit
from fastwait.providers._spec_files import load_spec, spec_from_dict
from fastwait.providers._toolsfast import ToolsFastCompress, ToolsFastConvert
from fastwait.providers._urls import require_base_url, resolve_download_url, same_origin
from fastwait.providers._validation import (
    job_state,
    payload_job_id,
    require_job_id,
    require_secret,
)
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
    "ApiCall",
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
    "InstalledProvider",
    "MediaJobs",
    "Provider",
    "States",
    "Status",
    "Submit",
    "ToolsFastCompress",
    "ToolsFastConvert",
    "api_error",
    "google_operation",
    "installed_providers",
    "job_state",
    "load_spec",
    "microsoft_operation",
    "parse_retry_after",
    "payload_job_id",
    "provider_class",
    "redact",
    "require_base_url",
    "require_job_id",
    "require_secret",
    "resolve_download_url",
    "same_origin",
    "spec_from_dict",
]

PROVIDERS: Mapping[str, type[Provider]] = MappingProxyType(
    {cls.name: cls for cls in (ToolsFastCompress, ToolsFastConvert, CompressorApp, MediaJobs)}
)
"""The four built-in providers by name; :func:`provider_class` finds installed ones too."""
