"""The pytest plugin: installed with fastwait, it gives any project the fake and a fast policy."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from fastwait import Client, JobFailed, PollPolicy
from fastwait.providers import ToolsFastCompress
from fastwait.testing import FakeProvider

USERS_TEST = """
import pytest

from fastwait import Client
from fastwait.providers import ToolsFastCompress


@pytest.mark.asyncio
async def test_compressing_a_photo(fastwait_fake, fastwait_poll_policy):
    job_id = fastwait_fake.create_job("compress")
    api = ToolsFastCompress("test-key", fastwait_fake.base_url("compress"))
    async with Client(api, policy=fastwait_poll_policy) as client:
        assert (await client.wait(job_id, timeout=10)).id == job_id
"""


def test_installing_fastwait_registers_the_plugin_by_entry_point() -> None:
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in plugins if p.name == "fastwait"] == ["fastwait.testing.pytest_plugin"]


def test_loading_the_plugin_leaves_the_fake_and_aiohttp_web_unloaded() -> None:
    # pytest loads the plugin in every project where fastwait is installed, used or not.
    probe = (
        "import sys, fastwait.testing.pytest_plugin;"
        " print([m for m in ('fastwait.testing._server', 'aiohttp.web') if m in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_a_project_of_its_own_uses_the_fixtures_in_strict_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users_code=USERS_TEST)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1)


async def test_the_fake_fixture_is_a_started_fake_provider(fastwait_fake: FakeProvider) -> None:
    assert fastwait_fake.url.startswith("http://127.0.0.1:")


@pytest.mark.fastwait_fake(failure_rate=1.0)
async def test_the_marker_passes_settings_to_the_fake(
    fastwait_fake: FakeProvider, fastwait_poll_policy: PollPolicy
) -> None:
    job_id = fastwait_fake.create_job("compress")
    api = ToolsFastCompress("test-key", fastwait_fake.base_url("compress"))
    async with Client(api, policy=fastwait_poll_policy) as client:
        with pytest.raises(JobFailed):
            await client.wait(job_id, timeout=10)


def test_the_fast_policy_polls_within_hundredths_of_a_second(
    fastwait_poll_policy: PollPolicy,
) -> None:
    assert fastwait_poll_policy.first_poll == fastwait_poll_policy.blind_first_poll == 0.05
    assert (fastwait_poll_policy.floor, fastwait_poll_policy.ceiling) == (0.02, 0.5)
