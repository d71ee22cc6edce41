"""What aiohttp is handed for an :class:`ApiRequest`, built with as little work as a poll allows.

aiohttp parses every ``str`` URL it is given (yarl), and copies every header mapping into a
multidict; at thousands of polls a second both show. So, for one provider: a URL under its
``base_url`` whose remaining path is plain unreserved segments (a status URL: the job id is
held to those characters) is built from the base's parsed parts without parsing or quoting, and
is the URL that parsing the string would give; and the provider's header mapping, when it is
one of the read-only ones a provider builds once, is copied into a read-only multidict once.
Anything else goes to aiohttp as it came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ["RequestArguments"]

_PLAIN_PATH: Final = re.compile(
    r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*"
)
"""Segments of unreserved characters, none starting with a dot (so none is ``.`` or ``..``):
nothing in them is quoted or normalized by parsing."""


class RequestArguments:
    """The URL and headers arguments for requests under one ``base_url``; one per transport."""

    __slots__ = ("_base", "_base_path", "_headers", "_prefix")

    def __init__(self, base_url: str | None) -> None:
        """``base_url``: the provider's API root, or None for a provider that has none (a
        provider of a user's own need not), whose URLs then all go to aiohttp as they are."""
        self._prefix = None if base_url is None else base_url.rstrip("/") + "/"
        self._base = None if self._prefix is None else URL(self._prefix)
        self._base_path = "" if self._base is None else self._base.raw_path
        self._headers: tuple[Mapping[str, str], CIMultiDictProxy[str]] | None = None

    def url(self, url: str) -> URL | str:
        """``url`` as aiohttp would parse it, built from the base's parts when that is safe."""
        if self._base is not None and self._prefix is not None and url.startswith(self._prefix):
            rest = url[len(self._prefix) :]
            if _PLAIN_PATH.fullmatch(rest):
                return self._base.with_path(self._base_path + rest, encoded=True)
        return url

    def headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` as a read-only multidict, copied once if the provider made it read-only."""
        cached = self._headers
        if cached is not None and cached[0] is headers:
            return cached[1]
        if isinstance(headers, MappingProxyType):
            copied = CIMultiDictProxy(CIMultiDict(headers))
            self._headers = (headers, copied)
            return copied
        return headers
