"""Fixtures shared by fastwait's tests: a started fake provider, an HTTP session, a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

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
