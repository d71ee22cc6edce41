"""Unpacking a multi-output ZIP into the destination, member by member, with the same rules.

Every member is written atomically under a sanitized name (no zip-slip), a name already taken
gets the job's id appended (as for single outputs), and the total uncompressed size is capped
against zip bombs.
"""

from __future__ import annotations

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
        raise DownloadError(f"{archive.name} is not a readable ZIP archive: {exc}") from exc
    return written
