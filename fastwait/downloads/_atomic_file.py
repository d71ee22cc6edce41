"""A file that is whole or absent: bytes land in a temporary file renamed into place on commit.

A crash, a truncated body or a checksum mismatch leaves nothing under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from fastwait.exceptions import ChecksumMismatchError, DownloadError

__all__ = ["AtomicFile"]


class AtomicFile:
    """A file that appears under its final name only when :meth:`commit` succeeds.

    Bytes go to a hidden temporary file beside the target; :meth:`commit` checks the optional
    sha1, fsyncs, and renames. Leaving the context without commit removes the temporary file.
    """

    def __init__(self, target: Path, *, overwrite: bool = False) -> None:
        self.target = target
        self._overwrite = overwrite
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._size = 0
        self._file: IO[bytes] | None = None
        self._temp_path: Path | None = None

    def __enter__(self) -> AtomicFile:
        if not self._overwrite and self.target.exists():
            raise DownloadError(f"{self.target} exists (pass overwrite=True to replace it)")
        fd, temp = tempfile.mkstemp(prefix=".fastwait-", suffix=".part", dir=self.target.parent)
        self._temp_path = Path(temp)
        self._file = os.fdopen(fd, "wb")
        return self

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "use AtomicFile as a context manager"
        self._file.write(chunk)
        self._sha1.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        return self._size

    def commit(self, *, expected_sha1: str | None = None, expected_size: int | None = None) -> Path:
        """Verify and move the bytes into place; raise (and keep nothing) on a mismatch."""
        assert self._file is not None
        assert self._temp_path is not None
        if expected_size is not None and expected_size != self._size:
            raise DownloadError(
                f"{self.target.name}: got {self._size} bytes, the API announced {expected_size}"
            )
        if expected_sha1 is not None and self._sha1.hexdigest() != expected_sha1.lower():
            raise ChecksumMismatchError(
                f"{self.target.name}: sha1 {self._sha1.hexdigest()} does not match the API's "
                f"{expected_sha1}"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._overwrite:
            os.replace(self._temp_path, self.target)
        else:
            try:
                os.link(self._temp_path, self.target)
            except FileExistsError:
                raise DownloadError(f"{self.target} appeared while downloading") from None
            self._temp_path.unlink()
        self._temp_path = None
        return self.target

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._temp_path.unlink()
            self._temp_path = None
