"""File formats the fake knows: extension, MIME type and kind.

One table serves all four APIs, so a ``photo.jpg`` is ``image/jpeg`` whichever API it went to.
Extensions are dotless and lowercase; ``jpeg`` is an alias that normalizes to ``jpg`` (tools.fast
reports ``"format": "jpg"`` for both).
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

__all__ = [
    "COMPRESSIBLE",
    "FileFormat",
    "base_name",
    "conversion_allowed",
    "is_multi_output",
    "lookup",
    "split_name",
]

Kind = Literal["image", "video", "audio", "document", "archive"]


@attrs.frozen
class FileFormat:
    """A known format: canonical dotless extension, MIME type and broad kind."""

    ext: str
    mime: str
    kind: Kind


_DOCX_MIME: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_FORMATS: Final = {
    f.ext: f
    for f in (
        FileFormat("jpg", "image/jpeg", "image"),
        FileFormat("png", "image/png", "image"),
        FileFormat("webp", "image/webp", "image"),
        FileFormat("gif", "image/gif", "image"),
        FileFormat("avif", "image/avif", "image"),
        FileFormat("svg", "image/svg+xml", "image"),
        FileFormat("tiff", "image/tiff", "image"),
        FileFormat("pdf", "application/pdf", "document"),
        FileFormat("docx", _DOCX_MIME, "document"),
        FileFormat("txt", "text/plain", "document"),
        FileFormat("mp4", "video/mp4", "video"),
        FileFormat("webm", "video/webm", "video"),
        FileFormat("mov", "video/quicktime", "video"),
        FileFormat("mp3", "audio/mpeg", "audio"),
        FileFormat("wav", "audio/wav", "audio"),
        FileFormat("ogg", "audio/ogg", "audio"),
        FileFormat("zip", "application/zip", "archive"),
    )
}
_ALIASES: Final = {"jpeg": "jpg", "tif": "tiff"}

COMPRESSIBLE: Final = frozenset({"jpg", "png", "webp", "gif", "avif", "svg", "pdf"})
"""What tools.fast compress accepts; anything else is 400 ``request.invalid_extension``."""

_TARGET_KINDS: Final[dict[Kind, frozenset[Kind]]] = {
    "image": frozenset({"image", "document"}),
    "document": frozenset({"document", "image"}),
    "video": frozenset({"video", "audio"}),
    "audio": frozenset({"audio"}),
    "archive": frozenset({"archive"}),
}


def lookup(ext: str | None) -> FileFormat | None:
    """The format for a dotless extension (any case, aliases allowed), or None if unknown."""
    if not ext:
        return None
    ext = ext.lower().lstrip(".")
    return _FORMATS.get(_ALIASES.get(ext, ext))


def base_name(file_name: str) -> str:
    """The last path component: uploads carry client-chosen names, never used as paths."""
    return file_name.replace("\\", "/").rsplit("/", 1)[-1]


def split_name(file_name: str) -> tuple[str, str]:
    """``"dir/photo.JPG"`` -> ``("photo", "JPG")``: the base name's stem and raw extension."""
    base = base_name(file_name)
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        return base, ""
    return stem, ext


def conversion_allowed(source: FileFormat, target: FileFormat) -> bool:
    """Whether tools.fast convert accepts ``source`` -> ``target`` (kinds that can map)."""
    return source != target and target.kind in _TARGET_KINDS[source.kind]


def is_multi_output(source: FileFormat, target: FileFormat) -> bool:
    """A PDF rasterized to JPG or PNG yields one file per page, delivered as a ZIP."""
    return source.ext == "pdf" and target.ext in ("jpg", "png")
