"""What may go into a URL and who may see credentials: base URLs, origins, download URLs.

A base URL or an API-given download URL decides where the API key is sent, so each is checked
here once: http(s) with a host, no embedded credentials, and keys attached only on the API's
own origin.
"""

from __future__ import annotations

import urllib.parse

from fastwait.exceptions import BadResponseError, ConfigurationError

__all__ = ["require_base_url", "require_http_url", "resolve_download_url", "same_origin"]


def require_http_url(value: object, what: str) -> str:
    """An absolute http(s) URL with a host and nothing that could smuggle in credentials."""
    if not isinstance(value, str) or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ConfigurationError(f"{what} must be an http(s) URL without whitespace")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what} must not contain credentials")
    return value


def require_base_url(value: object) -> str:
    """A provider's base URL: http(s), a host, no query or fragment; trailing slashes dropped.

    The message never repeats the URL, which might hold credentials.
    """
    url = require_http_url(value, "base_url").rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError("base_url must not have a query or fragment")
    return url


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname or "", port or _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, other: str) -> bool:
    """True when both URLs share scheme, host and (effective) port: who may see credentials."""
    mine = _origin(url)
    return mine is not None and mine[1] != "" and mine == _origin(other)


def resolve_download_url(base_url: str, url: str, *, source: str, field: str) -> str:
    """An API-given download URL made absolute against ``base_url`` (RFC 3986 resolution).

    Raises :class:`BadResponseError` naming ``field`` (a wire path such as ``$.downloadUrl``)
    when the result is not an http(s) URL with a host.
    """
    try:
        resolved = urllib.parse.urljoin(base_url + "/", url)
        require_http_url(resolved, field)
    except (ConfigurationError, ValueError):
        raise BadResponseError(f"{source}: expected an http(s) URL @ {field}") from None
    return resolved
