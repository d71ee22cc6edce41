"""Providers for a receiver that only translates: no API key is needed to read a webhook body.

A receiver calls no API, it only runs each provider's ``parse_status`` on bodies it verified.
The providers it is given therefore carry a placeholder key that is never sent anywhere; a base
URL matters only to resolve relative download URLs (and is required for the self-hosted media
API, which has no public address).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastwait.exceptions import ConfigurationError
from fastwait.providers import (
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
    provider_class,
)

__all__ = ["receiving_providers"]

_UNUSED_API_KEY = "receiver-never-calls-the-api"


def receiving_providers(
    names: Iterable[str], base_urls: Mapping[str | None, str] | None = None
) -> list[Provider]:
    """One provider per name in ``names`` (duplicates once), ready for a receiver.

    ``base_urls`` maps a provider name, or None for every provider without its own entry, to
    its API root. Raises :class:`ConfigurationError` for an unknown name, an invalid URL, or
    media without a base URL.
    """
    urls = dict(base_urls or {})
    providers: list[Provider] = []
    for name in dict.fromkeys(names):
        provider_class(name)  # an unknown name fails here, listing the known ones
        url = urls.get(name, urls.get(None))
        if name == MediaJobs.name:
            if url is None:
                raise ConfigurationError("media needs a base URL (it has no public address)")
            providers.append(MediaJobs(url))
        elif name == CompressorApp.name:
            providers.append(
                CompressorApp(_UNUSED_API_KEY)
                if url is None
                else CompressorApp(_UNUSED_API_KEY, url)
            )
        else:
            cls = ToolsFastCompress if name == ToolsFastCompress.name else ToolsFastConvert
            providers.append(cls(_UNUSED_API_KEY) if url is None else cls(_UNUSED_API_KEY, url))
    return providers
