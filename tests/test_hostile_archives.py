"""Hostile multi-output archives: real ZIP files built with ``zipfile`` (then damaged byte by
byte where ``zipfile`` cannot write the damage), served by a tiny tools.fast convert API of the
test, unpacked by a real ``fastwait wait --download`` subprocess or by ``extract_zip``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import seed_payloads as seeds
from aiohttp import web

from fastwait.downloads import ArchiveLimits, extract_zip
from fastwait.exceptions import DownloadError

JOB_IDS = [f"019c56457340753ba9441d7b4e6{n:05x}" for n in range(1, 10)]
PAGE = b"page bytes " * 100


def archive(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def patched_first_member(
    data: bytes, *, flags: int | None = None, method: int | None = None
) -> bytes:
    """``data`` with its first member's general-purpose flags or compression method changed, in
    both the local header and the central directory (what zipfile cannot write)."""
    patched = bytearray(data)
    local = patched.index(b"PK\x03\x04")
    central = patched.index(b"PK\x01\x02")
    for offset, field in ((local + 6, flags), (local + 8, method)):
        if field is not None:
            struct.pack_into("<H", patched, offset, field)
    for offset, field in ((central + 8, flags), (central + 10, method)):
        if field is not None:
            struct.pack_into("<H", patched, offset, field)
    return bytes(patched)


GOOD = archive({"report-1.jpg": PAGE, "report-2.jpg": PAGE})
ENCRYPTED = patched_first_member(GOOD, flags=0x1)
DEFLATE64 = patched_first_member(GOOD, method=9)


class ConvertApi:
    """A tools.fast convert API whose jobs have all succeeded with a multi-output ZIP."""

    def __init__(self) -> None:
        self.outputs: dict[str, tuple[str, bytes]] = {}
        self.url = ""

    def job(self, data: bytes, file_name: str = "outputs.zip") -> str:
        job_id = JOB_IDS[len(self.outputs)]
        self.outputs[job_id] = (file_name, data)
        return job_id

    async def status(self, request: web.Request) -> web.StreamResponse:
        file_name, _ = self.outputs[request.match_info["id"]]
        output = {"fileName": file_name, "contentType": "application/zip", "fileCount": 2}
        payload: dict[str, Any] = {
            **seeds.TF_CONVERT_STATUS,
            "id": request.match_info["id"],
            "output": output,
        }
        return web.json_response(payload)

    async def download(self, request: web.Request) -> web.StreamResponse:
        _, data = self.outputs[request.match_info["id"]]
        return web.Response(body=data, content_type="application/zip")


@pytest.fixture
async def api() -> AsyncIterator[ConvertApi]:
    served = ConvertApi()
    app = web.Application()
    app.router.add_get("/convert/job/{id}", served.status)
    app.router.add_get("/convert/job/{id}/download", served.download)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    served.url = f"http://{host}:{port}"
    try:
        yield served
    finally:
        await runner.cleanup()


async def fastwait_wait(api: ConvertApi, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "wait", "--provider", "convert",
        "--base-url", api.url, "--jsonl", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FASTWAIT_API_KEY": "test-key"},
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    lines = [json.loads(line) for line in out.decode().splitlines()]
    return process.returncode, lines, err.decode()


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- item 4: a member zipfile cannot read --------------------------------------------------


@pytest.mark.parametrize("damaged", [ENCRYPTED, DEFLATE64], ids=["encrypted", "deflate64"])
async def test_an_unreadable_member_fails_only_its_jobs_download_in_every_resumed_run(
    api: ConvertApi, tmp_path: Path, damaged: bytes
) -> None:
    bad, good = api.job(damaged), api.job(GOOD)
    state, dest = tmp_path / "state.db", tmp_path / "out"
    for run in ("first", "resumed"):
        ids = (bad, good) if run == "first" else ()
        code, lines, err = await fastwait_wait(
            api, "--download", str(dest), "--state", str(state), *ids
        )
        assert "Traceback" not in err, run
        assert code == 1, run
        by_id = {line["id"]: line for line in lines}
        assert by_id[bad]["error"]["code"] == "download_failed", run
        assert "report-1.jpg" in by_id[bad]["error"]["detail"], run
        if run == "first":
            assert by_id[good]["error"] is None
            assert len(by_id[good]["saved"]) == 2
    assert listing(dest) == ["report-1.jpg", "report-2.jpg"]  # the good job's, nothing else


@pytest.mark.parametrize("damaged", [ENCRYPTED, DEFLATE64], ids=["encrypted", "deflate64"])
def test_extract_zip_refuses_an_unreadable_member_before_writing_anything(
    tmp_path: Path, damaged: bytes
) -> None:
    bundle = tmp_path / "outputs.zip"
    bundle.write_bytes(damaged)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(DownloadError, match=r"report-1\.jpg"):
        extract_zip(bundle, dest, tag="job")
    assert listing(dest) == []


# --- item 5: zip bombs ---------------------------------------------------------------------


def overlapping(copies: int, member: bytes) -> bytes:
    """An archive of one stored member whose bytes ``copies`` central directory entries all
    name (each under its own name): the overlapping-entries bomb, unpacking to ``copies``
    times its size."""
    data = bytearray(archive({"page-00.jpg": member}, zipfile.ZIP_STORED))
    central = data.rindex(b"PK\x01\x02")
    end = data.rindex(b"PK\x05\x06")
    entry = bytes(data[central:end])
    names = [f"page-{n:02d}.jpg".encode() for n in range(copies)]  # all as long as the first
    entries = [entry.replace(b"page-00.jpg", name) for name in names]
    directory = b"".join(entries)
    record = bytearray(data[end:])
    struct.pack_into("<HHII", record, 8, copies, copies, len(directory), central)
    return bytes(data[:central]) + directory + bytes(record)


def extracted(tmp_path: Path, data: bytes, **limits: Any) -> list[Path]:
    bundle = tmp_path / "outputs.zip"
    bundle.write_bytes(data)
    dest = tmp_path / "out"
    dest.mkdir(exist_ok=True)
    return extract_zip(bundle, dest, tag="job", limits=ArchiveLimits(**limits))


async def test_an_archive_of_overlapping_entries_is_refused_and_nothing_is_written(
    api: ConvertApi, tmp_path: Path
) -> None:
    bomb = api.job(overlapping(40, os.urandom(1 << 20)))  # 1 MiB read as 40 MiB
    dest = tmp_path / "out"
    code, lines, err = await fastwait_wait(api, "--download", str(dest), bomb)
    assert "Traceback" not in err
    assert code == 1
    assert lines[0]["error"]["code"] == "download_failed"
    assert "overlaps" in lines[0]["error"]["detail"]
    assert listing(dest) == []


def test_a_member_with_an_absurd_compression_ratio_is_refused(tmp_path: Path) -> None:
    bomb = archive({"page-1.jpg": PAGE, "page-2.jpg": bytes(8 << 20)})  # ~1000:1
    with pytest.raises(DownloadError, match=r"page-2\.jpg.*zip bomb"):
        extracted(tmp_path, bomb)
    assert listing(tmp_path / "out") == []


def test_many_small_members_with_an_absurd_total_ratio_are_refused(tmp_path: Path) -> None:
    """Each member is under the exemption, the archive as a whole is not."""
    bomb = archive({f"page-{n}.jpg": bytes(512 << 10) for n in range(8)})  # 4 MiB of zeros
    with pytest.raises(DownloadError, match=r"unpacks to 4194304 bytes from \d+"):
        extracted(tmp_path, bomb)
    assert listing(tmp_path / "out") == []


def test_the_limits_are_settable(tmp_path: Path) -> None:
    blank = archive({"page-1.jpg": bytes(8 << 20)})
    assert [p.name for p in extracted(tmp_path, blank, max_ratio=5000)] == ["page-1.jpg"]
    with pytest.raises(DownloadError, match="more than 1000 bytes"):
        extracted(tmp_path, archive({"page-2.jpg": PAGE}), max_total_bytes=1000)


def test_an_ordinary_archive_is_within_the_default_limits(tmp_path: Path) -> None:
    pages = {f"page-{n}.jpg": os.urandom(300 << 10) for n in range(5)}
    saved = extracted(tmp_path, archive(pages))
    assert [p.read_bytes() for p in saved] == list(pages.values())


# --- item 6: names ---------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "keep"])
async def test_a_member_named_like_its_archive_is_saved_and_listed_truthfully(
    api: ConvertApi, tmp_path: Path, overwrite: bool
) -> None:
    job = api.job(archive({"outputs.zip": b"a member, not the archive", "page-2.jpg": PAGE}))
    dest = tmp_path / "out"
    flags = ["--overwrite"] if overwrite else []
    code, lines, err = await fastwait_wait(api, "--download", str(dest), *flags, job)
    assert (code, err) == (0, "")
    saved = [Path(path) for path in lines[0]["saved"]]
    assert [path.exists() for path in saved] == [True, True]
    assert sorted(path.name for path in saved) == listing(dest)
    member = dest / "outputs.zip" if overwrite else dest / f"outputs-{job}.zip"
    assert member in saved
    assert member.read_bytes() == b"a member, not the archive"


@pytest.mark.parametrize("name", ["a" * 5000 + ".jpg", "é" * 5000, "b" * 5000 + "." + "c" * 5000])
def test_a_5000_character_member_name_is_shortened_even_when_taken_under_a_long_job_id(
    tmp_path: Path, name: str
) -> None:
    bundle = tmp_path / "outputs.zip"
    bundle.write_bytes(archive({name: b"first"}))
    dest = tmp_path / "out"
    dest.mkdir()
    long_id = "j" * 300  # ids are only held to their characters: a media id may be this long
    first = extract_zip(bundle, dest, tag=long_id)
    again = extract_zip(bundle, dest, tag=long_id)
    third = extract_zip(bundle, dest, tag=long_id)
    names = [path.name for path in first + again + third]
    assert len(set(names)) == 3
    assert all(len(n.encode()) <= 255 for n in names), [len(n.encode()) for n in names]
    assert [path.read_bytes() for path in first + again + third] == [b"first"] * 3
