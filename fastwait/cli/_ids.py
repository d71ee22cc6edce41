"""Job ids from the command line and ``--ids-file``: read as a stream, each held to the
providers' job-id rule, refused with its line number.

A file of garbage must cost a line of stderr, not the memory of the whole file: lines are read
one at a time with a length cap, decoded one at a time (so a bad byte names its line), and the
first malformed one stops the reading.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from fastwait.exceptions import ConfigurationError
from fastwait.providers._validation import require_job_id

__all__ = ["MAX_ID_LINE_BYTES", "read_job_ids"]

MAX_ID_LINE_BYTES = 1024
"""The longest line an ids file may have; no API's job id comes near it."""


def read_job_ids(arguments: Sequence[str], ids_file: str | None) -> list[str]:
    """The ids given as arguments, then those in ``ids_file`` (``-``: standard input), in
    order, without repeats. Raises :class:`ConfigurationError` naming the first bad one."""
    ids: dict[str, None] = {}
    for position, job_id in enumerate(arguments, 1):
        ids[_checked(job_id, f"job id argument {position}")] = None
    if ids_file is not None:
        for job_id in _file_ids(ids_file):
            ids[job_id] = None
    return list(ids)


def _file_ids(name: str) -> Iterator[str]:
    if name == "-":
        yield from _stream_ids(sys.stdin.buffer, "standard input")
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by the with below, after the open's errors
    except OSError as exc:
        raise ConfigurationError(f"cannot read --ids-file {name}: {exc.strerror}") from None
    with handle:
        try:
            yield from _stream_ids(handle, name)
        except OSError as exc:
            raise ConfigurationError(f"cannot read --ids-file {name}: {exc.strerror}") from None


def _stream_ids(stream: BinaryIO, name: str) -> Iterable[str]:
    number = 0
    while line := stream.readline(MAX_ID_LINE_BYTES + 1):
        number += 1
        where = f"--ids-file {name} line {number}"
        if len(line) > MAX_ID_LINE_BYTES:
            raise ConfigurationError(f"{where}: longer than {MAX_ID_LINE_BYTES} bytes")
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigurationError(f"{where}: not UTF-8 text") from None
        if text:
            yield _checked(text, where)


def _checked(job_id: str, where: str) -> str:
    try:
        require_job_id(job_id)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return job_id
