"""Fixtures shared by fastwait's tests: a started fake provider, an HTTP session, a test clock;
and the Redis bookkeeping: each test noted for ``redis_support``'s marker check, and the
summary line saying how many Redis tests were skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from redis_support import REDIS_URL, note_running_test

from fastwait.testing import FakeProvider

pytest_plugins = ["pytester"]  # runs a project of its own against fastwait's pytest plugin


class ManualClock:
    """A clock that moves only when told: job states change exactly when a test advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """A started fake of all four APIs: seed 1, every job runs 0.3 s, API key ``test-key``."""
    async with FakeProvider(seed=1, durations=0.3) as provider:
        yield provider


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> ManualClock:
    """A hand-driven clock to pass as ``FakeProvider(clock=...)``."""
    return ManualClock()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    note_running_test(item)
    try:
        return (yield)
    finally:
        note_running_test(None)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after the short summary
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """Say how many Redis tests were skipped, just above the final counts: a green run may
    have tested no Redis at all."""
    yield
    stats = terminalreporter.stats
    redis_reports = [
        report
        for outcome in ("passed", "failed", "skipped", "error")
        for report in stats.get(outcome, [])
        if isinstance(report, pytest.TestReport) and "redis" in report.keywords
    ]
    ran = {r.nodeid for r in redis_reports if r.when == "call"}
    skipped = {r.nodeid for r in redis_reports if r.skipped} - ran
    if not ran and not skipped:
        return None
    terminalreporter.write_line(
        f"Redis tests ({REDIS_URL}): {len(ran)} ran, {len(skipped)} skipped"
        + (" (set FASTWAIT_REQUIRE_REDIS=1 to fail instead)" if skipped else ""),
        yellow=bool(skipped),
        bold=bool(skipped),
    )
    return None
