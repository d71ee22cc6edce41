"""fastwait's pytest plugin: the fake provider and a fast poll policy, as fixtures.

Installing fastwait registers it (the ``pytest11`` entry point ``fastwait``), so a project's
tests can use the fixtures without importing anything::

    import pytest
    from fastwait import Client
    from fastwait.providers import ToolsFastCompress


    @pytest.mark.asyncio
    async def test_compressing_a_photo(fastwait_fake, fastwait_poll_policy):
        job_id = fastwait_fake.create_job("compress")
        api = ToolsFastCompress("test-key", fastwait_fake.base_url("compress"))
        async with Client(api, policy=fastwait_poll_policy) as client:
            assert (await client.wait(job_id)).id == job_id

``fastwait_fake`` is a started :class:`~fastwait.testing.FakeProvider` (seed 1, jobs of 0.2 s,
API key ``test-key``), closed after the test; ``@pytest.mark.fastwait_fake(**settings)`` passes
other constructor arguments (``durations=2.0``, ``failure_rate=1.0``, ``webhook_secret=...``).
``specs=[...]`` makes it play declared APIs too: :class:`~fastwait.providers.ApiSpec` values or
TOML files (a relative path is found next to the test module), the same spec the test's
client uses (``fastwait_fake.declared_provider(name)`` builds that client's provider).
``fastwait_poll_policy`` is a :class:`~fastwait.PollPolicy` that polls every few hundredths of
a second, so waits end as soon as the fake's jobs do. The async fixture needs pytest-asyncio
(in strict mode, mark the tests ``@pytest.mark.asyncio``); without it, using it fails with a
message saying so. Disable the plugin with ``-p no:fastwait``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from fastwait.polling import PollPolicy

if TYPE_CHECKING:
    from fastwait.testing._server import FakeProvider

__all__ = ["fastwait_fake", "fastwait_poll_policy", "pytest_configure"]

_DEFAULTS: dict[str, Any] = {"seed": 1, "durations": 0.2}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fastwait_fake(**settings): FakeProvider arguments for the fastwait_fake fixture",
    )


@pytest.fixture
def fastwait_poll_policy() -> PollPolicy:
    """A poll policy for tests: first poll after 50 ms, then every 20-500 ms."""
    return PollPolicy(
        first_poll=0.05,
        blind_first_poll=0.05,
        floor=0.02,
        blind_step=0.05,
        ceiling=0.5,
        target_lag=0.05,
    )


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("fastwait_fake")
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.fastwait_fake takes keyword arguments only")
    settings = dict(marker.kwargs) if marker is not None else {}
    if "specs" in settings:  # a spec file is found next to the test module that names it
        folder = request.path.parent
        settings["specs"] = [
            folder / spec if isinstance(spec, str | os.PathLike) else spec
            for spec in settings["specs"]
        ]
    defaults = _DEFAULTS
    if "job_model" in settings:  # a job model says its own durations
        defaults = {key: value for key, value in _DEFAULTS.items() if key != "durations"}
    return {**defaults, **settings}


async def _started_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeProvider]:
    """A started fake provider of the four APIs, closed after the test."""
    from fastwait.testing._server import FakeProvider  # not at pytest's start: aiohttp.web

    async with FakeProvider(**_settings(request)) as fake:
        yield fake


def _without_pytest_asyncio(request: pytest.FixtureRequest) -> FakeProvider:
    """A started fake provider; it needs pytest-asyncio, which is not installed."""
    raise pytest.UsageError("the fastwait_fake fixture is async: install pytest-asyncio to use it")


def _fake_fixture() -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # the plugin must still load: fastwait's users need not use it
        return pytest.fixture(name="fastwait_fake")(_without_pytest_asyncio)
    return pytest_asyncio.fixture(name="fastwait_fake")(_started_fake)


fastwait_fake = _fake_fixture()
