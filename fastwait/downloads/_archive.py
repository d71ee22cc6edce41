"""Unpacking a multi-output ZIP into the destination, member by member, with the same rules.

Every member is written atomically under a sanitized name (no zip-slip), a name already taken
gets the job's id appended (as for single outputs), and zip bombs are refused before anything
is written (:class:`ArchiveLimits`): members whose bytes overlap, an absurd compression ratio,
too many bytes in total.
"""

from __future__ import annotations

import contextlib
import struct
import zipfile
import zlib
from pathlib import Path

import attrs

from fastwait.downloads._atomic_file import AtomicFile
from fastwait.downloads._names import distinct_names, safe_filename
from fastwait.exceptions import DownloadError

__all__ = ["ArchiveLimits", "extract_zip"]


@attrs.frozen
class ArchiveLimits:
    """What a multi-output ZIP may unpack to before it is refused as a zip bomb.

    ``max_total_bytes`` caps the uncompressed total. ``max_ratio`` caps uncompressed size over
    compressed size, for each member and for the whole archive (its uncompressed total over
    the archive's own size); outputs are images and documents, already compressed, so a real
    one is far below the default 200 where a bomb is in the thousands. A member, or an
    archive, that unpacks to at most ``ratio_exempt_bytes`` is never refused for its ratio
    (a small blank page is harmless whatever its ratio). Members whose bytes overlap (one
    compressed stream read as many members) are always refused.
    """

    max_total_bytes: int = attrs.field(default=4 << 30, validator=attrs.validators.gt(0))
    max_ratio: float = attrs.field(default=200.0, validator=attrs.validators.ge(1))
    ratio_exempt_bytes: int = attrs.field(default=1 << 20, validator=attrs.validators.ge(0))


def extract_zip(
    archive: Path,
    dest: Path,
    *,
    tag: str,
    overwrite: bool = False,
    limits: ArchiveLimits | None = None,
) -> list[Path]:
    """Unpack a multi-output ZIP into ``dest``; every member is written atomically.

    Member names are sanitized like any API-suggested name (no zip-slip). A name that is taken
    becomes ``stem-TAG.ext`` (``tag``: the job id), unless ``overwrite`` replaces files that
    were there before; two members of one archive never replace each other.

    Every member is checked before any is written: an encrypted one, or one in a compression
    method ``zipfile`` cannot unpack (deflate64, ...), is a :class:`DownloadError` naming it,
    and so is an archive over its ``limits`` (default :class:`ArchiveLimits`). A member that
    fails while it is unpacked (damaged bytes) is one too, and the members written before it
    are removed: the archive's outputs are all saved or none is.
    """
    limits = limits or ArchiveLimits()
    written: list[Path] = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            for info in members:
                _require_readable(archive, info)
            _require_no_bomb(archive, bundle.infolist(), limits)
            for index, info in enumerate(members):
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


_LOCAL_HEADER = struct.Struct("<4s22xHH")
"""A member's local header: its signature, then (after 22 bytes) its name and extra lengths."""


def _require_no_bomb(archive: Path, infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse an archive over ``limits``, or whose members' bytes overlap, from its directory.

    The declared sizes are what is checked: zipfile never unpacks a member past its declared
    size (and checks its CRC at the end), so they bound what could be written.
    """
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise DownloadError(f"{archive.name}: unpacks to more than {limits.max_total_bytes} bytes")
    for info in infos:
        if _too_compressed(info.file_size, info.compress_size, limits):
            raise DownloadError(
                f"{archive.name}: member {_shown(info)} unpacks to {info.file_size} bytes from "
                f"{info.compress_size} (more than {limits.max_ratio:g} times): a zip bomb?"
            )
    size = archive.stat().st_size
    if _too_compressed(total, size, limits):
        raise DownloadError(
            f"{archive.name}: unpacks to {total} bytes from {size} (more than "
            f"{limits.max_ratio:g} times): a zip bomb?"
        )
    end = 0
    with archive.open("rb") as raw:
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset < end:
                raise DownloadError(
                    f"{archive.name}: member {_shown(info)} overlaps another: a zip bomb?"
                )
            raw.seek(info.header_offset)
            header = raw.read(_LOCAL_HEADER.size)
            if len(header) < _LOCAL_HEADER.size:
                raise zipfile.BadZipFile(f"member {_shown(info)} starts past the end")
            signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
            if signature != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"member {_shown(info)} has no local header")
            end = (
                info.header_offset
                + _LOCAL_HEADER.size
                + name_length
                + extra_length
                + info.compress_size
            )


def _too_compressed(unpacked: int, packed: int, limits: ArchiveLimits) -> bool:
    return unpacked > limits.ratio_exempt_bytes and unpacked > limits.max_ratio * max(packed, 1)


def _shown(info: zipfile.ZipInfo) -> str:
    """A member's name as safe to print (the archive's text: no control characters, short)."""
    name = safe_filename(info.filename, "(unnamed)")
    return repr(name if len(name) <= 80 else name[:77] + "...")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
