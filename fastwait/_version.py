"""The version of the installed distribution, read from its metadata (pyproject.toml is the one
place it is written)."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("fastwait")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
