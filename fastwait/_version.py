"""The version of the installed distribution, read from its metadata (pyproject.toml is the one
place it is written) when first asked for: reading it imports :mod:`importlib.metadata` and
scans ``sys.path``, which ``import fastwait`` must not pay for."""

from __future__ import annotations

import functools

__all__ = ["installed_version"]


@functools.cache
def installed_version() -> str:
    """fastwait's version, or ``0+unknown`` when imported from a tree that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fastwait")
    except PackageNotFoundError:
        return "0+unknown"
