"""Providers for a receiver that only translates: no API key is needed to read a webhook body.

A receiver calls no API, it only runs each provider's ``parse_status`` on bodies it verified.
The providers it is given therefore carry a placeholder key that is never sent anywhere; a base
URL matters only to resolve relative download URLs (and is required for the self-hosted media
API, which has no public address).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastwait.providers import Provider, provider_class

__all__ = ["receiving_providers"]

_UNUSED_API_KEY = "receiver-never-calls-the-api"


def receiving_providers(
    names: Iterable[str], base_urls: Mapping[str | None, str] | None = None
) -> list[Provider]:
    """One provider per name in ``names`` (duplicates once), ready for a receiver.

    ``base_urls`` maps a provider name, or None for every provider without its own entry, to
    its API root. Each is built by its class (:meth:`~fastwait.providers.Provider.from_settings`)
    with a placeholder key. Raises :class:`~fastwait.ConfigurationError` for an unknown name, an
    invalid URL, or media without a base URL.
    """
    urls = dict(base_urls or {})
    return [
        provider_class(name).from_settings(_UNUSED_API_KEY, urls.get(name, urls.get(None)))
        for name in dict.fromkeys(names)
    ]
