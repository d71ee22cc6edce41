"""File names from untrusted sources reduced to one harmless path component.

The API suggests output names (``output.fileName``, Content-Disposition, ZIP member names);
none is trusted as a path: ``../../etc/passwd`` is saved as ``passwd`` inside the destination.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from email.message import Message

__all__ = ["distinct_names", "filename_from_content_disposition", "safe_filename"]

_MAX_NAME_BYTES = 200
_MAX_FILE_NAME_BYTES = 255
"""What file systems allow (ext4, APFS, NTFS in UTF-16 units): the bound on every name tried."""
_MAX_TAG_CHARS = 64
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
    name = _UNSAFE.sub("_", name).strip().lstrip(". ").strip()  # ". .x" is hidden too
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


def distinct_names(name: str, tag: str, *, limit: int = 1000) -> Iterator[str]:
    """``name``, then ``stem-TAG.ext``, ``stem-TAG-2.ext``, ...: the names to try in turn.

    Two jobs whose outputs share a name (two photos called ``photo.jpg``) must both be kept:
    the second is saved under its job id (the ``tag``), and only a third collision on that
    name falls back to a number. ``tag`` must be safe in a file name (job ids are); a tag
    longer than 64 characters is cut, and the stem is shortened so that every name fits the
    255 bytes file systems allow (a 200-byte name under a long media job id must not become
    "File name too long").
    """
    yield name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    ext = f".{suffix}" if suffix else ""
    tag = tag[:_MAX_TAG_CHARS]
    for n in range(1, limit):
        tail = f"-{tag}{'' if n == 1 else f'-{n}'}{ext}"
        budget = _MAX_FILE_NAME_BYTES - len(tail.encode("utf-8"))
        yield stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + tail
