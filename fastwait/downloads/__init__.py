"""Saving job outputs: names that cannot escape their folder, files that are whole or absent."""

from fastwait.downloads._archive import ArchiveLimits, extract_zip
from fastwait.downloads._atomic_file import AtomicFile, remove_stale_parts
from fastwait.downloads._directory import make_directory
from fastwait.downloads._names import (
    distinct_names,
    filename_from_content_disposition,
    safe_filename,
)

__all__ = [
    "ArchiveLimits",
    "AtomicFile",
    "distinct_names",
    "extract_zip",
    "filename_from_content_disposition",
    "make_directory",
    "remove_stale_parts",
    "safe_filename",
]
