"""Providers for a receiver that only translates: no API key is needed to read a webhook body.

A receiver calls no API, it only runs each provider's ``parse_status`` on bodies it verified.
The providers it is given therefore carry a placeholder key that is never sent anywhere; a base
URL matters only to resolve relative download URLs (and is required for the self-hosted media
API, which has no public address).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastwait.providers import PROVIDERS, Provider, provider_class

__all__ = ["receiving_providers"]

_UNUSED_API_KEY = "receiver-never-calls-the-api"


def receiving_providers(names: Iterable[str], base_urls: Iterable[str] = ()) -> list[Provider]:
    """One provider per name in ``names`` (duplicates once), ready for a receiver.

    Each entry of ``base_urls`` is ``NAME=URL``, the API root of the provider named, or
    ``URL``, that of every provider without its own entry (the form of ``fastwait receive
    --base-url`` and the service's ``FASTWAIT_BASE_URL``); a later entry for the same provider
    wins. Each provider is built by its class
    (:meth:`~fastwait.providers.Provider.from_settings`) with a placeholder key. Raises
    :class:`~fastwait.ConfigurationError` for an unknown name, an invalid URL, or media
    without a base URL.
    """
    urls: dict[str | None, str] = {}
    for entry in base_urls:
        named, equals, named_url = entry.partition("=")
        if equals and named in PROVIDERS:
            urls[named] = named_url
        else:
            urls[None] = entry
    return [
        provider_class(name).from_settings(_UNUSED_API_KEY, urls.get(name, urls.get(None)))
        for name in dict.fromkeys(names)
    ]
