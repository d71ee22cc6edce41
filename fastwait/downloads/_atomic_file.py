"""Saving job outputs safely: names that cannot escape, files that are whole or absent.

Kept apart from the client so the rules are tested on their own: an API-suggested file name is
reduced to one harmless path component, bytes go to a temporary file in the destination
directory and are renamed into place only once complete (and checksum-verified), and a ZIP of
several outputs is unpacked only into the destination, member by member, with the same rules.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from email.message import Message
from pathlib import Path
from typing import IO

from fastwait.exceptions import ChecksumMismatchError, DownloadError

__all__ = [
    "AtomicFile",
    "extract_zip",
    "filename_from_content_disposition",
    "safe_filename",
]

_MAX_NAME_BYTES = 200
_RESERVED = frozenset({".", "..", ""})
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


def safe_filename(suggested: str | None, fallback: str) -> str:
    """One path component derived from an untrusted name (``../../etc/passwd`` -> ``passwd``).

    Directory parts, drive letters, control characters and leading dots are dropped; an empty
    or reserved result becomes ``fallback`` (which must itself be safe).
    """
    name = unicodedata.normalize("NFC", suggested or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if name.split(".", 1)[0].lower() in _WINDOWS_DEVICES:
        name = f"_{name}"
    encoded = name.encode("utf-8")
    if len(encoded) > _MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) <= 16 else ""
        budget = _MAX_NAME_BYTES - len(keep.encode()) - 1
        head = (stem if keep else name).encode("utf-8")[:budget].decode("utf-8", "ignore")
        name = f"{head}.{keep}" if keep else head
    return fallback if name in _RESERVED else name


def filename_from_content_disposition(header: str | None) -> str | None:
    """The ``filename`` (or RFC 5987 ``filename*``) parameter of a Content-Disposition header."""
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    return name or None


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


def extract_zip(archive: Path, dest: Path, *, max_total_bytes: int = 4 << 30) -> list[Path]:
    """Unpack a multi-output ZIP into ``dest``; every member is written atomically.

    Member names are sanitized like any API-suggested name (no zip-slip), duplicates get a
    numeric suffix, and the total uncompressed size is capped against zip bombs.
    """
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(archive) as bundle:
            for index, info in enumerate(bundle.infolist()):
                if info.is_dir():
                    continue
                total += info.file_size
                if total > max_total_bytes:
                    raise DownloadError(
                        f"{archive.name}: unpacks to more than {max_total_bytes} bytes"
                    )
                name = _unique(dest, safe_filename(info.filename, f"output-{index + 1}"))
                with bundle.open(info) as member, AtomicFile(dest / name) as out:
                    while chunk := member.read(1 << 16):
                        out.write(chunk)
                    written.append(out.commit())
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise DownloadError(f"{archive.name} is not a readable ZIP archive: {exc}") from exc
    return written


def _unique(directory: Path, name: str) -> str:
    if not (directory / name).exists():
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    for n in range(2, 10_000):
        candidate = f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}"
        if not (directory / candidate).exists():
            return candidate
    raise DownloadError(f"too many files named like {name} in {directory}")
