"""Downloads: streamed, atomic, safely named, checksum-verified, expiry reported."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from fastwait import Client, JobState, PollPolicy
from fastwait.downloads import extract_zip
from fastwait.downloads._atomic_file import AtomicFile, place_without_hard_links
from fastwait.downloads._names import distinct_names
from fastwait.exceptions import (
    BadResponseError,
    ChecksumMismatchError,
    ConfigurationError,
    DownloadError,
    ExpiredError,
    NotReadyError,
    TransportError,
)
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress, ToolsFastConvert
from fastwait.testing import FakeProvider

FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, target_lag=0.05)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_single_output_is_saved_under_the_status_file_name(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path, status=status)
    assert path == tmp_path / "photo-compressed.jpg"
    assert path.stat().st_size == 4096
    assert listing(tmp_path) == ["photo-compressed.jpg"]


async def test_download_without_a_status_fetches_it_first(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("convert", file_name="scan.png", target_format="jpg", duration=0.05)
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path)
    assert path.name == "scan.jpg"


async def test_multi_output_zip_is_saved_and_unpacked(fake: FakeProvider, tmp_path: Path) -> None:
    job_id = fake.create_job("convert", file_name="report.pdf", target_format="jpg", duration=0.05)
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        zipped = await c.download(job_id, tmp_path, status=status)
        assert zipped.name == "convert.fast-pdf-to-jpg-report-3-outputs.zip"
        with zipfile.ZipFile(zipped) as archive:
            assert len(archive.namelist()) == 3
        zipped.unlink()
        pages = await c.download_outputs(job_id, tmp_path, status=status)
    assert [p.name for p in pages] == ["report-1.jpg", "report-2.jpg", "report-3.jpg"]
    assert listing(tmp_path) == ["report-1.jpg", "report-2.jpg", "report-3.jpg"]


async def test_expired_output_raises_expired_and_leaves_nothing(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("convert", file_name="a.png", target_format="jpg", duration=0.05)
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        fake.expire("convert", job_id)
        with pytest.raises(ExpiredError) as excinfo:
            await c.download(job_id, tmp_path, status=status)
    assert excinfo.value.status == 410
    assert excinfo.value.code == "jobs.expired"
    assert listing(tmp_path) == []


async def test_download_before_the_job_finishes_is_not_ready(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=60)
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        with pytest.raises(NotReadyError) as excinfo:
            await c.download(job_id, tmp_path)
    assert excinfo.value.code == "jobs.not_ready"
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    ("evil", "saved_as"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", "01"),
        (".bashrc", "bashrc"),
    ],
)
async def test_a_traversal_file_name_cannot_escape_the_destination(
    fake: FakeProvider, tmp_path: Path, evil: str, saved_as: str
) -> None:
    job_id = fake.create_job("compress", duration=0.05, output_file_name=evil)
    dest = tmp_path / "dest"
    dest.mkdir()
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, dest, status=status)
    assert path.parent == dest
    assert path.name.startswith(saved_as)
    assert listing(tmp_path) == ["dest"]


@pytest.mark.parametrize("suggested", [".bashrc", "..profile", ". .ssh"])
async def test_a_leading_dot_is_dropped_so_no_output_is_saved_hidden(
    fake: FakeProvider, tmp_path: Path, suggested: str
) -> None:
    job_id = fake.create_job("compress", duration=0.05, output_file_name=suggested)
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path, status=status)
    assert path.parent == tmp_path
    assert not path.name.startswith("."), path.name
    assert path.name == suggested.lstrip(". ")


async def test_compressor_app_output_is_sha1_verified(fake: FakeProvider, tmp_path: Path) -> None:
    job_id = fake.create_job("compressorapp", duration=0.05)
    async with Client(CompressorApp("test-key", fake.base_url("compressorapp")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path / "good", status=status)
        fake.corrupt_output("compressorapp", job_id)
        with pytest.raises(ChecksumMismatchError, match="sha1"):
            await c.download(job_id, tmp_path / "bad", status=status)
    assert status.output is not None
    assert status.output.sha1 is not None
    assert path.name == status.output.file_name
    assert hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest() == (
        status.output.sha1
    )
    assert listing(tmp_path / "bad") == []


async def test_a_sha1_mismatch_raises_and_leaves_nothing(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compressorapp", duration=0.05)
    async with Client(CompressorApp("test-key", fake.base_url("compressorapp")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        fake.corrupt_output("compressorapp", job_id)
        with pytest.raises(ChecksumMismatchError):
            await c.download(job_id, tmp_path, status=status)
    assert listing(tmp_path) == []


async def test_an_existing_file_is_kept_and_the_output_gets_the_job_id(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    (tmp_path / "photo-compressed.jpg").write_bytes(b"mine")
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path, status=status)
    assert path == tmp_path / f"photo-compressed-{job_id}.jpg"
    assert path.stat().st_size == 4096
    assert (tmp_path / "photo-compressed.jpg").read_bytes() == b"mine"


async def test_two_jobs_with_the_same_output_name_keep_both_files(
    fake: FakeProvider, tmp_path: Path
) -> None:
    first, second = (fake.create_job("compress", duration=0.05) for _ in range(2))
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        paths = [
            await c.download(job, tmp_path, status=await c.wait(job)) for job in (first, second)
        ]
        again = await c.download(second, tmp_path)
    assert [p.name for p in paths] == ["photo-compressed.jpg", f"photo-compressed-{second}.jpg"]
    assert again.name == f"photo-compressed-{second}-2.jpg"
    assert len(listing(tmp_path)) == 3


async def test_overwrite_replaces_an_existing_file(fake: FakeProvider, tmp_path: Path) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    (tmp_path / "photo-compressed.jpg").write_bytes(b"mine")
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        path = await c.download(job_id, tmp_path, status=status, overwrite=True)
    assert path == tmp_path / "photo-compressed.jpg"
    assert path.stat().st_size == 4096
    assert listing(tmp_path) == ["photo-compressed.jpg"]


async def test_a_file_the_system_refuses_to_write_is_a_download_error_leaving_nothing(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    (tmp_path / "photo-compressed.jpg").mkdir()  # nothing can replace a directory
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        with pytest.raises(DownloadError, match=r"photo-compressed\.jpg"):
            await c.download(job_id, tmp_path, status=status, overwrite=True)
    assert listing(tmp_path) == ["photo-compressed.jpg"]
    assert (tmp_path / "photo-compressed.jpg").is_dir()


def test_without_hard_links_a_taken_name_is_still_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"mine")
    temp = tmp_path / ".fastwait-1.part"
    temp.write_bytes(b"output")
    candidates = [tmp_path / "photo.jpg", tmp_path / "photo-job.jpg"]
    placed = place_without_hard_links(temp, candidates)
    assert placed == tmp_path / "photo-job.jpg"
    assert placed.read_bytes() == b"output"
    assert (tmp_path / "photo.jpg").read_bytes() == b"mine"
    assert listing(tmp_path) == ["photo-job.jpg", "photo.jpg"]


def test_a_name_taken_while_downloading_is_never_replaced(tmp_path: Path) -> None:
    with AtomicFile(tmp_path / "out.jpg") as out:
        out.write(b"output")
        (tmp_path / "out.jpg").write_bytes(b"mine")
        with pytest.raises(DownloadError, match="appeared while downloading"):
            out.commit()
    assert listing(tmp_path) == ["out.jpg"]
    assert (tmp_path / "out.jpg").read_bytes() == b"mine"


def test_when_every_fallback_name_is_taken_nothing_is_replaced(tmp_path: Path) -> None:
    for name in ("out.jpg", "out-job.jpg", "out-job-2.jpg"):
        (tmp_path / name).write_bytes(b"mine")
    with AtomicFile(
        tmp_path / "out.jpg", alternatives=distinct_names("out.jpg", "job", limit=3)
    ) as out:
        out.write(b"output")
        with pytest.raises(DownloadError, match=r"too many files named like out\.jpg"):
            out.commit()
    assert listing(tmp_path) == ["out-job-2.jpg", "out-job.jpg", "out.jpg"]


def test_a_zip_member_with_damaged_compressed_bytes_is_a_download_error(tmp_path: Path) -> None:
    archive = tmp_path / "outputs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("report-1.jpg", os.urandom(100) * 50)
    damaged = bytearray(archive.read_bytes())
    data_start = 30 + len("report-1.jpg")  # after the member's local header
    damaged[data_start : data_start + 20] = b"\xff" * 20
    archive.write_bytes(damaged)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(DownloadError, match="not a readable ZIP"):
        extract_zip(archive, dest, tag="job")
    assert listing(dest) == []


async def test_unpacked_members_that_exist_get_the_job_id(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("convert", file_name="report.pdf", target_format="jpg", duration=0.05)
    (tmp_path / "report-1.jpg").write_bytes(b"mine")
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        pages = await c.download_outputs(job_id, tmp_path, status=await c.wait(job_id))
    assert [p.name for p in pages] == [f"report-1-{job_id}.jpg", "report-2.jpg", "report-3.jpg"]
    assert (tmp_path / "report-1.jpg").read_bytes() == b"mine"


async def test_unpacked_members_overwrite_only_when_asked(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("convert", file_name="report.pdf", target_format="jpg", duration=0.05)
    (tmp_path / "report-1.jpg").write_bytes(b"mine")
    async with Client(ToolsFastConvert("test-key", fake.base_url("convert")), policy=FAST) as c:
        status = await c.wait(job_id)
        pages = await c.download_outputs(job_id, tmp_path, status=status, overwrite=True)
    assert [p.name for p in pages] == ["report-1.jpg", "report-2.jpg", "report-3.jpg"]
    assert (tmp_path / "report-1.jpg").read_bytes() != b"mine"


async def test_a_missing_destination_is_created_with_its_parents(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    dest = tmp_path / "out" / "photos"
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        path = await c.download(job_id, dest, status=await c.wait(job_id))
    assert path == dest / "photo-compressed.jpg"


async def test_a_destination_that_is_a_file_is_a_configuration_error(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    (tmp_path / "out").write_bytes(b"")
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id)
        with pytest.raises(ConfigurationError, match="not a directory"):
            await c.download(job_id, tmp_path / "out", status=status)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
async def test_saved_files_get_the_process_umask(
    fake: FakeProvider, tmp_path: Path, umask: int, mode: int
) -> None:
    job_id = fake.create_job("compress", duration=0.05)
    async with Client(ToolsFastCompress("test-key", fake.base_url("compress")), policy=FAST) as c:
        status = await c.wait(job_id)
        previous = os.umask(umask)
        try:
            path = await c.download(job_id, tmp_path, status=status)
        finally:
            os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


async def test_a_connection_dropped_mid_download_leaves_no_file(
    fake: FakeProvider, tmp_path: Path
) -> None:
    job_id = fake.create_job("media", file_name="clip.mp4", duration=0.05)
    async with Client(MediaJobs(fake.base_url("media")), policy=FAST) as c:
        status = await c.wait(job_id, timeout=10)
        assert status.state is JobState.SUCCEEDED
        fake.faults.fail_next(2, kind="truncate")
        with pytest.raises((TransportError, BadResponseError)) as excinfo:
            await c.download(job_id, tmp_path, status=status)
    assert excinfo.value.transient
    assert listing(tmp_path) == []
