"""Single requests through the Client: submit, status, cancel, delete, compare, catalogue."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fastwait import Client, JobState, PollPolicy
from fastwait.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    UnsupportedOperationError,
)
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress, ToolsFastConvert
from fastwait.testing import FakeProvider

FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, target_lag=0.05)
SECRET = "fast_prod_SUPERSECRET_4242"


def compress(fake: FakeProvider, key: str = "test-key") -> Client:
    return Client(ToolsFastCompress(key, fake.base_url("compress")), policy=FAST)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 pretend jpeg " * 64)
    return path


async def test_submit_compress_returns_the_accepted_job(fake: FakeProvider, photo: Path) -> None:
    async with compress(fake) as client:
        accepted = await client.submit(photo)
    assert accepted.state is JobState.QUEUED
    assert accepted.queue is not None
    assert accepted.queue.estimate_seconds is not None
    assert fake.job("compress", accepted.id).file_name == "photo.jpg"


async def test_submit_convert_sends_the_target_format(fake: FakeProvider, tmp_path: Path) -> None:
    document = tmp_path / "report.pdf"
    document.write_bytes(b"%PDF-1.4 pretend")
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        accepted = await c.submit(document, targetFormat="png")
        status = await c.wait(accepted.id, timeout=10)
    assert fake.job("convert", accepted.id).target_format == "png"
    assert status.output is not None
    assert status.output.file_count == 3


async def test_submit_media_sends_the_preset(fake: FakeProvider, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"pretend mp4")
    async with Client(MediaJobs(fake.base_url("media")), policy=FAST, keep_raw=True) as client:
        accepted = await client.submit(clip, preset="low-bandwidth")
        status = await client.wait(accepted.id, timeout=10)
    assert accepted.created_at is not None
    assert status.raw["preset"] == "low-bandwidth"


async def test_submit_an_empty_file_is_an_invalid_request(
    fake: FakeProvider, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    async with compress(fake) as client:
        with pytest.raises(InvalidRequestError) as excinfo:
            await client.submit(empty)
    assert excinfo.value.code == "request.empty_file"


async def test_submit_a_missing_file_sends_nothing(fake: FakeProvider, tmp_path: Path) -> None:
    async with compress(fake) as client:
        with pytest.raises(ConfigurationError):
            await client.submit(tmp_path / "nope.jpg")
    assert fake.request_count == 0


async def test_compressor_app_has_no_submit(fake: FakeProvider, photo: Path) -> None:
    async with Client(CompressorApp("test-key", fake.base_url("compressorapp"))) as client:
        with pytest.raises(UnsupportedOperationError):
            await client.submit(photo)


async def test_cancel_then_cancel_again_conflicts(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    async with compress(fake) as client:
        await client.cancel(job_id)
        assert (await client.status(job_id)).state is JobState.CANCELED
        with pytest.raises(ConflictError) as excinfo:
            await client.cancel(job_id)
    assert excinfo.value.code == "jobs.not_cancellable"


async def test_delete_a_running_job_conflicts_and_a_finished_one_goes(fake: FakeProvider) -> None:
    running = fake.create_job("convert", duration=60)
    done = fake.create_job("convert", duration=0.05)
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        with pytest.raises(ConflictError) as excinfo:
            await c.delete(running)
        assert excinfo.value.code == "jobs.not_deletable"
        await c.wait(done, timeout=10)
        await c.delete(done)
        with pytest.raises(NotFoundError):
            await c.status(done)


async def test_compare_of_a_succeeded_compression(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    async with compress(fake) as client:
        api = client.provider
        assert isinstance(api, ToolsFastCompress)
        await client.wait(job_id, timeout=10)
        comparison = await client.call(api.compare(job_id))
    assert comparison.before_image
    assert comparison.original_bytes > 0


async def test_compare_before_success_is_not_ready(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", duration=60)
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Client(api) as client:
        with pytest.raises(NotReadyError) as excinfo:
            await client.call(api.compare(job_id))
    assert excinfo.value.code == "compare.not_ready"


def test_compare_exists_only_for_compression() -> None:
    assert not hasattr(ToolsFastConvert("test-key"), "compare")
    assert not hasattr(Client, "compare")


async def test_compressors_and_entitlements(fake: FakeProvider) -> None:
    api = ToolsFastCompress("test-key", fake.base_url("compress"))
    async with Client(api) as client:
        catalogue = await client.call(api.compressors())
        account = await client.call(api.entitlements())
    assert catalogue.compressors
    assert account.tier == "pro"


async def test_another_users_job_is_forbidden(fake: FakeProvider) -> None:
    job_id = fake.create_job("compress", owner="someone-else")
    async with compress(fake) as client:
        with pytest.raises(ForbiddenError) as excinfo:
            await client.status(job_id)
    assert excinfo.value.code == "jobs.forbidden"


async def test_the_api_key_appears_in_no_log_repr_or_error(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    with caplog.at_level(logging.DEBUG):
        async with compress(fake, key=SECRET) as client:
            with pytest.raises(AuthenticationError) as excinfo:
                await client.wait(job_id, timeout=10)
            texts = [repr(client), repr(client.provider), str(excinfo.value), repr(excinfo.value)]
            request = client.provider.status_request(job_id)
            texts.append(repr(request))
    texts.extend(record.getMessage() for record in caplog.records)
    assert not [text for text in texts if SECRET in text]
