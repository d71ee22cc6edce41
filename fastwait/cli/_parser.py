"""The argument parser every ``fastwait`` command uses: argparse, but a usage error is one line
on stderr and exit status 2 (``EXIT_USAGE``), never argparse's usage block."""

from __future__ import annotations

import argparse
from typing import NoReturn

from fastwait.cli._outcome import EXIT_USAGE

__all__ = ["CommandParser"]


class CommandParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")
