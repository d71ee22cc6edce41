"""Providers for a receiver that only translates: no API key is needed to read a webhook body.

A receiver calls no API, it only runs each provider's ``parse_status`` on bodies it verified.
The providers it is given therefore carry a placeholder key that is never sent anywhere; a base
URL matters only to resolve relative download URLs (and is required for the self-hosted media
API, which has no public address).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastwait.providers import Provider, provider_class

__all__ = ["receiving_providers"]

_UNUSED_API_KEY = "receiver-never-calls-the-api"


def receiving_providers(
    names: Iterable[str | type[Provider]], base_urls: Iterable[str] = ()
) -> list[Provider]:
    """One provider per entry of ``names`` (duplicates once), ready for a receiver.

    An entry is a provider's name, built-in or installed
    (:func:`~fastwait.providers.provider_class` finds it), or a :class:`Provider` subclass.

    Each entry of ``base_urls`` is ``NAME=URL``, the API root of the provider named, or
    ``URL``, that of every provider without its own entry (the form of ``fastwait receive
    --base-url`` and the service's ``FASTWAIT_BASE_URL``); a later entry for the same provider
    wins. Each provider is built by its class
    (:meth:`~fastwait.providers.Provider.from_settings`) with a placeholder key. Raises
    :class:`~fastwait.ConfigurationError` for an unknown name or one that cannot be loaded,
    an invalid URL, or media without a base URL.
    """
    classes = [provider_class(n) if isinstance(n, str) else n for n in dict.fromkeys(names)]
    urls: dict[str | None, str] = {}
    for entry in base_urls:
        named, equals, named_url = entry.partition("=")
        if equals and any(cls.name == named for cls in classes):
            urls[named] = named_url
        else:
            urls[None] = entry
    return [
        cls.from_settings(_UNUSED_API_KEY, urls.get(cls.name, urls.get(None)))
        for cls in dict.fromkeys(classes)
    ]
