"""The destination folder of downloads: made on demand, refused clearly when it cannot be."""

from __future__ import annotations

import os
from pathlib import Path

from fastwait.exceptions import ConfigurationError

__all__ = ["make_directory"]


def make_directory(dest: str | os.PathLike[str]) -> Path:
    """``dest`` as an existing directory, created with its parents if missing.

    Raises :class:`ConfigurationError` (one line, the OS's reason) when it exists as something
    else or cannot be created, so a caller can check it before paying for any job.
    """
    directory = Path(dest)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigurationError(f"{directory} exists and is not a directory") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot create {directory}: {exc.strerror}") from None
    return directory
