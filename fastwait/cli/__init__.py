"""The ``fastwait`` command: ``wait``, ``receive`` and ``demo`` (entry point :func:`main`)."""

from fastwait.cli._main import main

__all__ = ["main"]
