"""Providers found the way Python finds plugins: the ``fastwait.providers`` entry-point group.

A package makes its provider known by declaring it in that group (see
``docs/guides/provider-plugins.md``); fastwait declares its four built-ins there too, as pytest
declares its own plugin in ``pytest11``. Nothing is imported to list the group: a name is
imported only when it is asked for, so a plugin that fails to import costs its own name and
nothing else, and is named (with where it comes from) in the one-line error.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from fastwait.exceptions import ConfigurationError
from fastwait.providers._base import Provider

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["BUILT_IN", "GROUP", "InstalledProvider", "installed_providers", "provider_class"]

GROUP = "fastwait.providers"
"""The entry-point group a package declares its providers in."""

BUILT_IN = "built-in"
"""The origin of the providers fastwait itself declares."""

_BUILT_INS = {
    "compress": "fastwait.providers:ToolsFastCompress",
    "convert": "fastwait.providers:ToolsFastConvert",
    "compressorapp": "fastwait.providers:CompressorApp",
    "media": "fastwait.providers:MediaJobs",
}
"""What fastwait's own ``pyproject.toml`` declares (a test holds them equal): used as they
are when fastwait runs from a source tree whose metadata is not installed."""


@attrs.frozen
class InstalledProvider:
    """One provider of the group, not yet imported.

    ``origin`` is ``"built-in"`` for fastwait's own, else the declaring distribution's
    ``"name version"``; ``target`` is the entry point's ``module:Class``.
    """

    name: str
    origin: str
    target: str

    def load(self) -> type[Provider]:
        """The provider class, imported now.

        Raises :class:`ConfigurationError`, one line naming this provider and its origin, when
        the import fails (whatever the plugin raised) or does not give a concrete
        :class:`Provider` subclass whose ``name`` is this entry's name.
        """
        from importlib.metadata import EntryPoint  # importing fastwait reads no metadata

        entry = EntryPoint(self.name, self.target, GROUP)
        try:
            loaded = entry.load()
        except Exception as exc:  # a plugin may raise anything while importing
            text = next(iter(str(exc).splitlines()), "")
            raise ConfigurationError(
                f"provider {self.name!r} ({self.origin}) cannot be loaded: "
                f"{type(exc).__name__}{': ' + text if text else ''}"
            ) from exc
        if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
            raise ConfigurationError(
                f"provider {self.name!r} ({self.origin}) is {self.target}, "
                "which is not a fastwait Provider subclass"
            )
        if inspect.isabstract(loaded):
            raise ConfigurationError(
                f"provider {self.name!r} ({self.origin}) is {self.target}, which does not "
                "implement status_request and parse_status"
            )
        if getattr(loaded, "name", None) != self.name:
            raise ConfigurationError(
                f"provider {self.name!r} ({self.origin}) is {self.target}, whose name is "
                f"{getattr(loaded, 'name', None)!r}: declare it under its own name"
            )
        return loaded


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _origin(entry: EntryPoint) -> str:
    dist = entry.dist
    if dist is None:
        return "unknown distribution"
    if _normalized(dist.name) == "fastwait":
        return BUILT_IN
    return f"{dist.name} {dist.version}"


def _by_origin(provider: InstalledProvider) -> str:
    return provider.origin


def installed_providers() -> tuple[InstalledProvider, ...]:
    """Every provider declared in the group, sorted by name then origin; none is imported."""
    import importlib.metadata  # importing fastwait reads no metadata

    found = {
        InstalledProvider(entry.name, _origin(entry), entry.value)
        for entry in importlib.metadata.entry_points(group=GROUP)
    }
    if not any(provider.origin == BUILT_IN for provider in found):
        found.update(InstalledProvider(n, BUILT_IN, t) for n, t in _BUILT_INS.items())
    return tuple(sorted(found, key=lambda provider: (provider.name, provider.origin)))


def provider_class(
    name: str, installed: Iterable[InstalledProvider] | None = None
) -> type[Provider]:
    """The provider class named ``name``, built-in or installed, imported now.

    ``installed`` defaults to :func:`installed_providers`. Raises :class:`ConfigurationError`
    in one line: for an unknown name (listing the known ones), for a name two origins declare
    (naming both: neither is chosen), and for a provider that cannot be loaded (see
    :meth:`InstalledProvider.load`). Other providers are unaffected by any of these.
    """
    providers = tuple(installed_providers() if installed is None else installed)
    if not isinstance(name, str):
        raise ConfigurationError(f"a provider name is a string, not {name!r}")
    named = sorted({p.origin: p for p in providers if p.name == name}.values(), key=_by_origin)
    if not named:
        known = ", ".join(sorted({provider.name for provider in providers}))
        raise ConfigurationError(f"unknown provider {name!r} (known: {known})")
    if len(named) > 1:
        origins = " and by ".join(f"{p.origin} ({p.target})" for p in named)
        raise ConfigurationError(
            f"provider {name!r} is declared twice, by {origins}: uninstall one of them"
        )
    return named[0].load()
