"""What a person watching ``fastwait wait`` or ``fastwait demo`` sees while jobs run.

On a terminal, with ``rich`` installed (``pip install 'fastwait[rich]'``): a live area redrawn
several times a second, one line per job (or, for a batch taller than the terminal, the jobs
still running under a header of counts) with a distinguishable id, state, percent and elapsed
time; messages print on their own lines above it. Anywhere else (a pipe, a log file, no rich):
plain lines, one per finished job, never redrawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self

from fastwait._models import JobStatus
from fastwait.cli._board import WAITING, BoardRow, JobBoard, format_elapsed
from fastwait.cli._outcome import JobReport

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["LiveDisplay", "PlainDisplay", "open_display"]

_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "CANCELED": "yellow",
    "TIMEOUT": "magenta",
    "ERROR": "bold red",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    WAITING: "dim",
}


_REDRAW_INTERVAL = 1 / 8
"""Seconds between two redraws of the live board."""


class PlainDisplay:
    """Lines for pipes, logs and terminals without rich: one per finished job, and messages."""

    def __init__(self, stream: IO[str], *, job_lines: bool = True) -> None:
        self.board = JobBoard()
        self._stream = stream
        self._job_lines = job_lines

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def add(self, provider: str, job_ids: Iterable[str]) -> None:
        self.board.add(provider, job_ids)

    def progress(self, status: JobStatus) -> None:
        self.board.progress(status)

    def finished(self, report: JobReport) -> None:
        """A line saying how the job ended (unless made with ``job_lines=False``)."""
        self.board.finished(report)
        if not self._job_lines:
            return
        board = self.board
        result = report.result
        width = len(str(board.total))
        why = f" ({report.reason})" if report.reason else ""
        self.message(
            f"[{board.ended:>{width}}/{board.total}] {result.provider} {result.job_id} "
            f"{report.state} {format_elapsed(result.elapsed)}{why}"
        )

    def message(self, text: str) -> None:
        """A line of its own (above the live area, when there is one)."""
        print(text, file=self._stream, flush=True)


class LiveDisplay(PlainDisplay):
    """The board redrawn in place with ``rich``, eight times a second.

    Redraws run on the event loop (no thread reads the board while it changes); the last
    frame stays on screen when the block ends.
    """

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        super().__init__(console.file)
        self._console = console
        self._live: Live = Live(
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=console.file is sys.stdout,
            redirect_stderr=True,
            get_renderable=lambda: render_board(self.board, console.width, console.height),
        )
        self._refresher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._live.start(refresh=True)
        self._refresher = asyncio.create_task(self._refresh_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        self._live.refresh()
        self._live.stop()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(_REDRAW_INTERVAL)
            self._live.refresh()

    def finished(self, report: JobReport) -> None:
        """The board shows the job; why one did not succeed is a message above it."""
        self.board.finished(report)
        if not report.succeeded:
            result = report.result
            why = f" ({report.reason})" if report.reason else ""
            self.message(f"{result.provider} {result.job_id}: {report.state}{why}")

    def message(self, text: str) -> None:
        from rich.text import Text

        self._console.print(Text(text))


def open_display(stream: IO[str], *, live: bool = True) -> PlainDisplay:
    """A :class:`LiveDisplay` on ``stream`` when it is a terminal and rich is installed, else a
    :class:`PlainDisplay`; ``live=False`` (machine output elsewhere) shows messages only."""
    if not live:
        return PlainDisplay(stream, job_lines=False)
    if not stream.isatty():
        return PlainDisplay(stream)
    try:
        from rich.console import Console
    except ImportError:
        return PlainDisplay(stream)
    console = Console(file=stream)
    if not console.is_terminal or console.is_dumb_terminal:
        return PlainDisplay(stream)
    return LiveDisplay(console)


def render_board(board: JobBoard, width: int, height: int) -> RenderableType:
    """The live area for a terminal of ``width`` x ``height``: a header of counts, then as many
    job lines as fit (every job when the batch fits, else the jobs still awaited)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header = _header(board)
    room = max(height - 4, 3)
    hidden = 0
    if board.total <= room:
        rows = list(board.rows())
    else:
        # A redraw costs the rows shown, not the jobs awaited: the rest are counted, not walked.
        rows = list(itertools.islice(board.active_rows(), room - 1))
        hidden = board.total - board.ended - len(rows)
    show_bar = width >= 64
    bar_width = min(30, width // 4)
    several_providers = len(board.providers) > 1
    # Whole ids only when they fit beside the other columns: rich would cut their ends, the
    # very characters that tell GUIDv7 ids apart.
    others = [len("SUCCEEDED"), len("100%"), len("59m59s")]
    others += [max(map(len, board.providers))] if several_providers else []
    others += [bar_width] if show_bar else []
    full_ids = width - sum(others) - 2 * len(others) >= board.longest_id  # 2: column gap
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_header=bool(rows))
    if several_providers:
        table.add_column("api", style="dim", no_wrap=True)
    table.add_column("job", no_wrap=True, overflow="ellipsis", min_width=9)
    table.add_column("state", no_wrap=True)
    if show_bar:
        table.add_column("progress", no_wrap=True, width=bar_width)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("elapsed", justify="right", no_wrap=True)
    for row in rows:
        cells: list[RenderableType] = []
        if several_providers:
            cells.append(row.provider)
        cells.append(Text(row.job_id if full_ids else board.short_id(row.job_id)))
        cells.append(f"[{_STYLES.get(row.state, '')}]{row.state}[/]")
        if show_bar:
            cells.append(_bar(row))
        cells.append("" if row.percent is None else f"{row.percent:.0f}%")
        cells.append(format_elapsed(board.elapsed(row)))
        table.add_row(*cells)
    parts: list[RenderableType] = [header, table]
    if hidden:
        parts.append(f"[dim]… and {hidden} more still awaited[/]")
    return Group(*parts)


def _header(board: JobBoard) -> RenderableType:
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    counts = [f"[bold]{board.ended}/{board.total} done[/]"]
    for state, count in sorted(board.ended_states.items()):
        if count:
            counts.append(f"[{_STYLES.get(state, '')}]{count} {state.lower()}[/]")
    if board.download_failures:
        counts.append(f"[bold red]{board.download_failures} download failed[/]")
    for state in ("RUNNING", "QUEUED", WAITING):
        if board.active_states[state]:
            counts.append(f"{board.active_states[state]} {state.lower()}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_row("  ".join(counts), format_elapsed(board.now()))
    # In a grid cell, not bare in a Group: a bare ProgressBar ends without a newline and the
    # next line would be drawn onto it.
    bar = Table.grid(expand=True)
    bar.add_row(ProgressBar(total=max(board.total, 1), completed=board.ended))
    return Group(grid, bar)


def _bar(row: BoardRow) -> RenderableType:
    from rich.progress_bar import ProgressBar

    if row.ended_after is not None:
        done = row.state == "SUCCEEDED"
        return ProgressBar(total=100, completed=100 if done else row.percent or 0)
    if row.percent is not None:
        return ProgressBar(total=100, completed=row.percent)
    if row.state == "RUNNING":
        return ProgressBar(total=None)  # no percent from this API: a pulse, so it visibly moves
    return ""
