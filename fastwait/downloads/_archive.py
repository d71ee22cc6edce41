"""Unpacking a multi-output ZIP into the destination, member by member, with the same rules.

Every member is written atomically under a sanitized name (no zip-slip), a name already taken
gets the job's id appended (as for single outputs), and the total uncompressed size is capped
against zip bombs.
"""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from pathlib import Path

from fastwait.downloads._atomic_file import AtomicFile
from fastwait.downloads._names import distinct_names, safe_filename
from fastwait.exceptions import DownloadError

__all__ = ["extract_zip"]


def extract_zip(
    archive: Path,
    dest: Path,
    *,
    tag: str,
    overwrite: bool = False,
    max_total_bytes: int = 4 << 30,
) -> list[Path]:
    """Unpack a multi-output ZIP into ``dest``; every member is written atomically.

    Member names are sanitized like any API-suggested name (no zip-slip). A name that is taken
    becomes ``stem-TAG.ext`` (``tag``: the job id), unless ``overwrite`` replaces files that
    were there before; two members of one archive never replace each other. The total
    uncompressed size is capped against zip bombs.

    Every member is checked before any is written: an encrypted one, or one in a compression
    method ``zipfile`` cannot unpack (deflate64, ...), is a :class:`DownloadError` naming it.
    A member that fails while it is unpacked (damaged bytes) is one too, and the members
    written before it are removed: the archive's outputs are all saved or none is.
    """
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            for info in members:
                _require_readable(archive, info)
            for index, info in enumerate(members):
                total += info.file_size
                if total > max_total_bytes:
                    raise DownloadError(
                        f"{archive.name}: unpacks to more than {max_total_bytes} bytes"
                    )
                name = safe_filename(info.filename, f"output-{index + 1}")
                replace = overwrite and dest / name not in written
                with (
                    bundle.open(info) as member,
                    AtomicFile(
                        dest / name,
                        overwrite=replace,
                        alternatives=() if replace else distinct_names(name, tag),
                    ) as out,
                ):
                    while chunk := member.read(1 << 16):
                        out.write(chunk)
                    written.append(out.commit())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        # zlib.error and EOFError: a member whose compressed bytes are damaged or cut short.
        _remove(written)
        raise DownloadError(f"{archive.name} is not a readable ZIP archive: {exc}") from exc
    except (RuntimeError, NotImplementedError) as exc:
        # What zipfile raises for what _require_readable did not foresee (a missing bz2 or
        # lzma module): one job's output, never a crash of the whole run.
        _remove(written)
        raise DownloadError(f"{archive.name} cannot be unpacked: {exc}") from exc
    except BaseException:
        _remove(written)
        raise
    return written


_UNPACKABLE_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ENCRYPTED = 0x1
"""Bit 0 of a member's general-purpose flags: its bytes are encrypted."""


def _require_readable(archive: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member ``zipfile`` cannot unpack, before anything is written."""
    if info.flag_bits & _ENCRYPTED:
        raise DownloadError(f"{archive.name}: member {_shown(info)} is encrypted")
    if info.compress_type not in _UNPACKABLE_METHODS:
        raise DownloadError(
            f"{archive.name}: member {_shown(info)} uses compression method "
            f"{info.compress_type}, which cannot be unpacked"
        )


def _shown(info: zipfile.ZipInfo) -> str:
    """A member's name as safe to print (the archive's text: no control characters, short)."""
    name = safe_filename(info.filename, "(unnamed)")
    return repr(name if len(name) <= 80 else name[:77] + "...")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
