"""Saving job outputs: names that cannot escape their folder, files that are whole or absent."""

from fastwait.downloads._files import (
    AtomicFile,
    extract_zip,
    filename_from_content_disposition,
    safe_filename,
)

__all__ = ["AtomicFile", "extract_zip", "filename_from_content_disposition", "safe_filename"]
