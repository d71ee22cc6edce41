"""What a person watching ``fastwait wait``/``demo`` sees: the board, drawn with rich on a
terminal, plain lines elsewhere. Terminals are rich consoles writing to a buffer, and a real
pseudo-terminal for the command itself."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Callable

import pytest
from rich.console import Console

from fastwait import JobResult, JobState, JobStatus
from fastwait.cli._board import JobBoard
from fastwait.cli._display import summary_table
from fastwait.cli._live import LiveDisplay, PlainDisplay, render_board
from fastwait.cli._outcome import JobReport
from fastwait.exceptions import WaitTimeout
from fastwait.testing import FakeProvider

# tools.fast ids of one batch: GUIDv7 hex sharing the millisecond timestamp prefix
BATCH = [f"01a2287d55e17{n:03x}a{n * 7919 % 4096:03x}c0ffee{n:06x}" for n in range(1, 5)]


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def status(job_id: str, state: JobState, percent: float | None = None) -> JobStatus:
    return JobStatus(provider="compress", id=job_id, state=state, progress_percent=percent)


def ended(job_id: str, state: JobState, elapsed: float = 1.0) -> JobReport:
    return JobReport(JobResult("compress", job_id, status(job_id, state), elapsed=elapsed))


def draw(board: JobBoard, width: int = 100, height: int = 40) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None)
    console.print(render_board(board, width, height))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in text.splitlines()]


def short_ids(*batches: list[str]) -> dict[str, str]:
    """What a board shows of each id, the ids added batch by batch."""
    board = JobBoard(clock=ManualClock())
    for batch in batches:
        board.add("compress", batch)
    return {job_id: board.short_id(job_id) for batch in batches for job_id in batch}


def test_ids_sharing_a_time_prefix_are_told_apart_by_their_tails() -> None:
    short = short_ids(BATCH)
    assert len(set(short.values())) == len(BATCH)
    for job_id, shown in short.items():
        assert shown.startswith("…")
        assert job_id.endswith(shown[1:])


def test_an_id_shorter_than_its_distinguishing_tail_is_shown_whole() -> None:
    assert short_ids(["abc", "xabc"]) == {"abc": "abc", "xabc": "xabc"}


def test_ids_added_in_batches_are_told_apart_as_if_added_at_once() -> None:
    # The second batch shares 11 last characters with the first: every id needs 12 now.
    later = [f"{n:04x}{job_id[-11:]}" for n, job_id in enumerate(BATCH)]
    at_once = short_ids([*BATCH, *later, BATCH[0]])
    assert short_ids(BATCH[:2], BATCH[2:], later[:1], later[1:], [BATCH[0]]) == at_once
    assert {len(shown) for shown in at_once.values()} == {1 + 12}


def test_the_longest_id_counts_every_batch() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", ["short-id"])
    board.add("compressorapp", ["0190f3a2-1111-7222-8333-444455556666", "tiny"])
    board.add("compress", ["short-id"])
    assert board.longest_id == len("0190f3a2-1111-7222-8333-444455556666")


def test_each_job_has_a_line_with_id_state_percent_and_elapsed() -> None:
    clock = ManualClock()
    board = JobBoard(clock=clock)
    board.add("compress", BATCH)
    board.progress(status(BATCH[0], JobState.RUNNING, 55))
    board.progress(status(BATCH[1], JobState.QUEUED))
    clock.advance(2.5)
    board.finished(ended(BATCH[2], JobState.SUCCEEDED))
    lines = draw(board, width=80)
    by_job = {job_id: next(line for line in lines if job_id[-8:] in line) for job_id in BATCH}
    assert re.search(r"RUNNING.*55%.*2\.5s", by_job[BATCH[0]])
    assert re.search(r"QUEUED.*2\.5s", by_job[BATCH[1]])
    assert re.search(r"SUCCEEDED.*2\.5s", by_job[BATCH[2]])
    assert re.search(r"WAITING.*2\.5s", by_job[BATCH[3]])


def test_elapsed_time_moves_for_a_job_without_progress() -> None:
    clock = ManualClock()
    board = JobBoard(clock=clock)
    board.add("compressorapp", ["0190f3a2-1111-7222-8333-444455556666"])
    board.progress(
        JobStatus(provider="compressorapp", id="0190f3a2-1111-7222-8333-444455556666",
                  state=JobState.RUNNING)
    )  # fmt: skip
    clock.advance(1)
    first = draw(board)
    clock.advance(2)
    second = draw(board)
    assert any("RUNNING" in line and "1.0s" in line for line in first)
    assert any("RUNNING" in line and "3.0s" in line for line in second)


def test_a_header_counts_the_batch() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH)
    board.progress(status(BATCH[0], JobState.RUNNING, 10))
    board.finished(ended(BATCH[1], JobState.SUCCEEDED))
    board.finished(ended(BATCH[2], JobState.FAILED))
    header = draw(board)[0]
    assert "2/4 done" in header
    assert "1 succeeded" in header
    assert "1 failed" in header
    assert "1 running" in header


@pytest.mark.parametrize("width", [40, 60, 80, 160])
def test_the_board_fits_the_terminal_width(width: int) -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH)
    for job_id in BATCH:
        board.progress(status(job_id, JobState.RUNNING, 42))
    lines = draw(board, width=width)
    assert all(len(line) <= width for line in lines)
    shown = [line for line in lines if "RUNNING" in line]
    assert len(shown) == len(BATCH)
    assert len({line.split()[0] for line in shown}) == len(BATCH)  # every id distinct


def test_wide_terminals_show_whole_ids() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH)
    assert any(BATCH[0] in line for line in draw(board, width=160))


def test_a_batch_taller_than_the_terminal_shows_the_jobs_still_awaited() -> None:
    board = JobBoard(clock=ManualClock())
    ids = [f"01a2287d55e1{n:020x}" for n in range(200)]
    board.add("compress", ids)
    for job_id in ids[:150]:
        board.finished(ended(job_id, JobState.SUCCEEDED))
    lines = draw(board, height=24)
    assert len(lines) <= 24
    assert "150/200 done" in lines[0]
    assert not any("SUCCEEDED" in line for line in lines[1:])
    assert any("more still awaited" in line for line in lines)


class TerminalBuffer(io.StringIO):
    """What a terminal received, with an event to await the next write (a redraw)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)

    async def next_write(self) -> None:
        self.written.clear()
        async with asyncio.timeout(10):
            await self.written.wait()


async def test_messages_print_on_their_own_lines_above_the_live_area() -> None:
    buffer = TerminalBuffer()
    console = Console(file=buffer, force_terminal=True, width=100, height=30, color_system=None)
    async with LiveDisplay(console) as display:
        display.add("compress", BATCH)
        display.progress(status(BATCH[0], JobState.RUNNING, 30))
        await buffer.next_write()  # the board is redrawn with the job running
        failed = JobStatus(
            provider="compress", id=BATCH[1], state=JobState.FAILED,
            error_code="compress.failed", error_detail="not an image",
        )  # fmt: skip
        display.finished(JobReport(JobResult("compress", BATCH[1], failed)))
        await buffer.next_write()  # and redrawn again below the message
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", buffer.getvalue())
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    message = next(line for line in lines if line.startswith("compress "))
    assert message == f"compress {BATCH[1]}: FAILED (compress.failed: not an image)"
    assert lines.index(message) < max(i for i, line in enumerate(lines) if "30%" in line)


def test_plain_lines_say_how_each_job_ended() -> None:
    stream = io.StringIO()
    display = PlainDisplay(stream)
    display.add("compress", BATCH[:2])
    display.finished(ended(BATCH[0], JobState.SUCCEEDED, elapsed=1.25))
    timeout = WaitTimeout("compress", BATCH[1], 5)
    display.finished(JobReport(JobResult("compress", BATCH[1], None, error=timeout, elapsed=5)))
    assert stream.getvalue().splitlines() == [
        f"[1/2] compress {BATCH[0]} SUCCEEDED 1.2s",
        f"[2/2] compress {BATCH[1]} TIMEOUT 5.0s ({timeout})",
    ]


def run_in_terminal(
    *args: str,
    columns: int = 100,
    lines: int = 30,
    on_output: Callable[[str], None] | None = None,
) -> str:
    """Run ``python *args`` on a pseudo-terminal of that size; everything it wrote.

    ``on_output`` is called (in this thread) with everything written so far after each read.
    """
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": str(lines), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, *args], stdin=secondary, stdout=secondary, stderr=secondary, env=env
    )
    os.close(secondary)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
            if on_output is not None:
                on_output(b"".join(chunks).decode(errors="replace"))
    finally:
        os.close(main)
        process.wait(timeout=60)
    return b"".join(chunks).decode(errors="replace")


async def test_a_terminal_sees_the_elapsed_time_of_a_job_without_progress_tick(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compressorapp", duration=3600)
    loop = asyncio.get_running_loop()

    def elapsed_shown(output: str) -> list[float]:
        return [float(s) for s in re.findall(job_id + r"[^\n\r]*?(\d+\.\d)s", output)]

    def end_the_job() -> None:
        fake.job("compressorapp", job_id).completes_at = fake.now()

    def on_output(output: str) -> None:
        if len(set(elapsed_shown(output))) == 3:  # it ticked twice: the job may end now
            loop.call_soon_threadsafe(end_the_job)

    output = await asyncio.to_thread(
        run_in_terminal, "-m", "fastwait", "wait", "--provider", "compressorapp",
        "--base-url", fake.base_url("compressorapp"), "--api-key", "test-key",
        "--timeout", "60", job_id, on_output=on_output,
    )  # fmt: skip
    shown = elapsed_shown(output)
    assert len(set(shown)) >= 3, output
    assert shown == sorted(shown), output
    assert "1/1 succeeded" in output


async def test_without_rich_a_terminal_gets_plain_lines(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.3)
    output = await asyncio.to_thread(
        run_in_terminal, "-c",
        "import sys; sys.modules['rich'] = None; from fastwait.cli import main; sys.exit(main())",
        "wait", "--provider", "compress", "--base-url", fake.base_url("compress"),
        "--api-key", "test-key", job_id,
    )  # fmt: skip
    assert f"[1/1] compress {job_id} SUCCEEDED" in output
    assert "\x1b[" not in output  # no terminal control at all


def test_the_summary_after_a_live_board_lists_only_jobs_that_did_not_succeed() -> None:
    reports = [ended(BATCH[0], JobState.SUCCEEDED), ended(BATCH[1], JobState.FAILED)]
    table = summary_table(reports, every_job=False).splitlines()
    assert [line for line in table if BATCH[0] in line] == []
    assert [line.split()[2] for line in table if BATCH[1] in line] == ["FAILED"]
    assert table[-1].startswith("1/2 succeeded, 1 failed")


def test_the_summary_fits_a_terminal_width_when_given_one() -> None:
    reports = [ended(job_id, JobState.FAILED) for job_id in BATCH]
    assert all(len(line) <= 50 for line in summary_table(reports, width=50).splitlines())


def test_ids_too_long_for_the_width_show_their_distinguishing_tails() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH)
    board.add("compressorapp", ["0190f3a2-1111-7222-8333-444455556666"])
    lines = draw(board, width=100)
    for job_id in BATCH:
        assert board.short_id(job_id) != job_id
        assert any(board.short_id(job_id) in line for line in lines)


def test_a_succeeded_job_with_progress_shows_100_percent() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH[:1])
    board.progress(status(BATCH[0], JobState.RUNNING, 68))
    board.finished(ended(BATCH[0], JobState.SUCCEEDED))
    assert any("SUCCEEDED" in line and "100%" in line for line in draw(board))


def test_a_terminal_gets_the_column_names_on_their_own_line() -> None:
    board = JobBoard(clock=ManualClock())
    board.add("compress", BATCH)
    console = Console(file=io.StringIO(), width=100, height=30, force_terminal=True)
    console.print(render_board(board, 100, 30))
    plain = re.sub(r"\x1b\[[0-9;]*m", "", console.file.getvalue())  # type: ignore[attr-defined]
    assert plain.splitlines()[2].split() == ["job", "state", "progress", "%", "elapsed"]
