"""Logging for the ``fastwait`` commands: how much (``-v``, ``-q``) and in which form.

``--log-format text`` (the default) is one readable line per record; ``json`` is one JSON
object per record with the structured fields fastwait's log calls attach (``provider``,
``job_id``, ``event`` and a few more), for log pipelines. Records go to whatever
``sys.stderr`` is when they are emitted, so a live display that owns the terminal prints them
above its area.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from typing import Any

__all__ = ["FIELDS", "JsonFormatter", "add_logging_options", "configure_logging", "level_for"]

FIELDS = ("event", "provider", "job_id", "state", "percent", "source")
"""The ``extra=`` names fastwait's log calls use; the JSON form carries each one present."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _CurrentStderr(logging.Handler):
    """Writes to the ``sys.stderr`` of the moment (a live display may have redirected it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def level_for(verbose: int, quiet: int, *, default: int = logging.WARNING) -> int:
    """``default``, one step (10) more verbose per ``-v`` and quieter per ``-q``."""
    return min(max(default - 10 * verbose + 10 * quiet, logging.DEBUG), logging.CRITICAL)


def configure_logging(level: int, log_format: str) -> None:
    """Send every logger's records at ``level`` and above to stderr in ``log_format``."""
    handler = _CurrentStderr()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def add_logging_options(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """``-v``, ``-q`` and ``--log-format`` on ``parser`` (every command has them, and so does
    ``fastwait`` itself, for ``fastwait -v wait ...``)."""
    # On the subcommands the defaults are suppressed, so they do not reset what was given
    # before the command's name.
    default: Any = 0 if top_level else argparse.SUPPRESS
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log more: -v for each job's end (INFO), -vv for every status (DEBUG)",
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=default, help="log less (-q: errors only)"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None if top_level else argparse.SUPPRESS,
        help="text lines (default) or one JSON object per record, with provider, job_id, event",
    )
