"""A file that is whole or absent: bytes land in a temporary file renamed into place on commit.

A crash, a truncated body or a checksum mismatch leaves nothing under the final name, and the
temporary file a killed process could not remove is removed by the next run
(:func:`remove_stale_parts`): its writer holds a lock on it while it lives. Files are
created with mode 0666 less the process umask, like any file the user's own tools create.
Whatever the file system refuses (a full disk, a directory in the way, no permission) is a
:class:`DownloadError` naming the file and the system's reason: one output that cannot be
saved must not end a batch of them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from fastwait.exceptions import ChecksumMismatchError, DownloadError

__all__ = ["AtomicFile", "place_without_hard_links", "remove_stale_parts"]

_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}
)
"""What ``link()`` answers on a file system that cannot make (more) hard links (FAT, some
network and FUSE file systems)."""


class AtomicFile:
    """A file that appears under its final name only when :meth:`commit` succeeds.

    Bytes go to a hidden temporary file beside the target; :meth:`commit` checks the optional
    sha1, fsyncs, and moves it into place. An existing file of that name is replaced when
    ``overwrite``; otherwise the first free name of ``alternatives`` (names in the same
    folder) is taken, and with no alternatives it is a :class:`DownloadError`. Leaving the
    context without commit removes the temporary file. Every failure, the file system's
    included, is a :class:`DownloadError`.
    """

    def __init__(
        self, target: Path, *, overwrite: bool = False, alternatives: Iterable[str] = ()
    ) -> None:
        self.target = target
        self._overwrite = overwrite
        self._alternatives = alternatives
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._size = 0
        self._file: IO[bytes] | None = None
        self._temp_path: Path | None = None

    def __enter__(self) -> AtomicFile:
        if not self._overwrite and not self._alternatives and self.target.exists():
            raise DownloadError(f"{self.target} exists (pass overwrite=True to replace it)")
        try:
            fd, self._temp_path = _create_beside(self.target)
        except OSError as exc:
            raise self._cannot_save(exc) from exc
        self._file = os.fdopen(fd, "wb")
        return self

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "use AtomicFile as a context manager"
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise self._cannot_save(exc) from exc
        self._sha1.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        return self._size

    def commit(self, *, expected_sha1: str | None = None, expected_size: int | None = None) -> Path:
        """Verify and move the bytes into place; raise (and keep nothing) on a mismatch.

        Returns the path the file now has: ``target``, or the alternative it was given.
        """
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
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self._overwrite:
                os.replace(self._temp_path, self.target)
                placed = self.target
            else:
                placed = self._place_first_free(self._temp_path)
        except OSError as exc:
            raise self._cannot_save(exc) from exc
        self._temp_path = None
        return placed

    def _place_first_free(self, temp: Path) -> Path:
        """Move ``temp`` to the first name not taken, never replacing a file."""
        tried = 0

        def candidates() -> Iterator[Path]:
            # Lazily: the first name is usually free, and up to 1,000 alternatives may follow.
            nonlocal tried
            seen: set[str] = set()
            for name in itertools.chain([self.target.name], self._alternatives):
                if name not in seen:
                    seen.add(name)
                    tried += 1
                    yield self.target.with_name(name)

        placed = _move_to_first_free(temp, candidates())
        if placed is not None:
            return placed
        if tried == 1:
            raise DownloadError(f"{self.target} appeared while downloading")
        raise DownloadError(f"too many files named like {self.target.name} in {self.target.parent}")

    def _cannot_save(self, exc: OSError) -> DownloadError:
        return DownloadError(
            f"cannot save {self.target.name} in {self.target.parent}: {exc.strerror or exc}"
        )

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None and not self._file.closed:
            with contextlib.suppress(OSError):  # the error that brought us here is the story
                self._file.close()
        if self._temp_path is not None:
            with contextlib.suppress(OSError):
                self._temp_path.unlink()
            self._temp_path = None


def _move_to_first_free(temp: Path, candidates: Iterator[Path]) -> Path | None:
    """Move ``temp`` to the first candidate not taken (a hard link, atomic and never replacing
    a file; without hard links, see :func:`place_without_hard_links`). None when every one is
    taken, and ``temp`` is left for the caller."""
    for candidate in candidates:
        try:
            os.link(temp, candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            return place_without_hard_links(temp, itertools.chain([candidate], candidates))
        temp.unlink()
        return candidate
    return None


def place_without_hard_links(temp: Path, candidates: Iterable[Path]) -> Path | None:
    """Move ``temp`` to the first candidate not taken where ``link()`` is unsupported.

    The name is claimed with an empty file created exclusively (so an existing file is never
    replaced), then ``temp`` is renamed over the claim. Unlike a hard link, a crash between
    the two leaves the claimed name empty. None when every candidate is taken.
    """
    for candidate in candidates:
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            os.replace(temp, candidate)
        except OSError:
            with contextlib.suppress(OSError):
                candidate.unlink()
            raise
        return candidate
    return None


_PART_NAME = re.compile(r"\.fastwait-[0-9a-f]{16}\.part")
"""The temporary files :class:`AtomicFile` makes, and only those."""


def _create_beside(target: Path) -> tuple[int, Path]:
    """A new hidden file in ``target``'s folder, opened for writing and locked.

    Made with ``os.open(..., 0o666)`` rather than ``mkstemp`` (always 0600) so the umask decides
    the mode, as for any file the user creates. The exclusive lock (released when the file is
    closed, or its process dies) tells :func:`remove_stale_parts` it is being written.
    """
    for _ in range(100):
        path = target.with_name(f".fastwait-{secrets.token_hex(8)}.part")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, path
    raise DownloadError(f"cannot create a temporary file in {target.parent}")


def remove_stale_parts(directory: Path, *, older_than: float = 60.0) -> list[Path]:
    """Remove the temporary files killed downloads left in ``directory``; return them.

    Only files of :class:`AtomicFile`'s own naming (``.fastwait-<16 hex>.part``) that no live
    writer holds locked and that were last written more than ``older_than`` seconds ago (a
    writer locks its file an instant after creating it) are removed: a download in progress,
    in this process or another, keeps its file. What cannot be read or removed is left alone.
    """
    removed: list[Path] = []
    stale_before = time.time() - older_than
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not _PART_NAME.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime > stale_before:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(entry.path)
        except OSError:  # held by a live writer (BlockingIOError), or not ours to remove
            continue
        finally:
            os.close(fd)
        removed.append(Path(entry.path))
    return removed
