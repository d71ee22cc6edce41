"""Which provider a command means: ``--provider NAME`` resolved, and ``fastwait providers``.

Every command that takes a provider resolves it here, in :func:`resolve_provider`, so a new
way of naming one (a declared spec, say) is added in one place for ``wait`` and ``receive``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from fastwait.exceptions import ConfigurationError
from fastwait.providers import Provider, installed_providers, provider_class

__all__ = ["list_providers", "resolve_provider"]

_ALL_USABLE = 0
_SOME_UNUSABLE = 1


def resolve_provider(name: str) -> type[Provider]:
    """The provider class ``--provider NAME`` stands for: built-in or installed.

    Raises :class:`ConfigurationError` in one line for an unknown name (listing the known
    ones), a name two packages declare (naming both), or a provider that cannot be imported.
    """
    return provider_class(name)


def list_providers(out: TextIO | None = None, errors: TextIO | None = None) -> int:
    """Print every provider with its origin and entry point; each one that cannot be used
    (it fails to import, or two packages declare its name) also gets one line on ``errors``.

    Returns 0 when every provider can be used, 1 otherwise: the others still work.
    """
    out = sys.stdout if out is None else out
    errors = sys.stderr if errors is None else errors
    providers = installed_providers()
    rows = [("NAME", "ORIGIN", "ENTRY POINT")]
    rows += [(p.name, p.origin, p.target) for p in providers]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for name, origin, target in rows:
        print(f"{name:<{widths[0]}}  {origin:<{widths[1]}}  {target}", file=out)
    out.flush()
    status = _ALL_USABLE
    for name in dict.fromkeys(provider.name for provider in providers):
        try:
            provider_class(name, providers)
        except ConfigurationError as exc:
            print(f"fastwait: error: {exc}", file=errors)
            status = _SOME_UNUSABLE
    return status
