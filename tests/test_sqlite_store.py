"""The SQLite store: first result wins durably, the journal remembers what a restart resumes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import ManualClock

from fastwait import JobState, JobStatus, OutputInfo, Registry
from fastwait.exceptions import ConfigurationError
from fastwait.registry._sqlite import SQLiteResultStore
from fastwait.registry._store import JobJournal, Resolution, ResultStore

KEY = ("compress", "019c56457340753ba9441d7b4e6516a0")


def resolution(
    state: JobState = JobState.SUCCEEDED, source: str = "poll", job_id: str = KEY[1]
) -> Resolution:
    status = JobStatus(
        id=job_id,
        provider="compress",
        state=state,
        progress_percent=100.0,
        metrics={"savedPercent": 41.5, "passes": [1, 2]},
        output=OutputInfo(file_name="photo-compressed.jpg", content_type="image/jpeg", size=812),
        error_code="jobs.failed" if state is JobState.FAILED else None,
        raw={"id": job_id, "status": state.value.lower(), "progress": {"percent": 100}},
    )
    return Resolution(status=status, source=source, resolved_at=1_700_000_000.25)


def fastwait_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fastwait-sqlite")]


async def test_it_is_a_result_store_and_a_journal(tmp_path: Path) -> None:
    store: ResultStore = SQLiteResultStore(tmp_path / "state.db")
    assert isinstance(store, JobJournal)
    await store.aclose()


async def test_first_result_wins_and_both_callers_get_it(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        first, second = await asyncio.gather(
            store.put_first(KEY, resolution(source="webhook")),
            store.put_first(KEY, resolution(JobState.FAILED, source="poll")),
        )
        assert first == second == resolution(source="webhook")
        assert await store.get(KEY) == resolution(source="webhook")


async def test_a_result_round_trips_every_field_through_the_file(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        await store.put_first(KEY, resolution(JobState.FAILED))
    async with SQLiteResultStore(tmp_path / "state.db") as reopened:
        assert await reopened.get(KEY) == resolution(JobState.FAILED)


async def test_a_stored_result_wins_over_a_later_process(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        await store.put_first(KEY, resolution(source="webhook"))
    async with SQLiteResultStore(tmp_path / "state.db") as restarted:
        kept = await restarted.put_first(KEY, resolution(JobState.CANCELED))
    assert kept == resolution(source="webhook")


async def test_results_expire_after_the_ttl(tmp_path: Path, clock: ManualClock) -> None:
    async with SQLiteResultStore(tmp_path / "state.db", ttl=60, clock=clock) as store:
        await store.put_first(KEY, resolution())
        clock.advance(59)
        assert await store.get(KEY) is not None
        clock.advance(2)
        assert await store.get(KEY) is None
        assert await store.put_first(KEY, resolution(JobState.FAILED)) == resolution(
            JobState.FAILED
        )


async def test_expired_rows_are_deleted_from_the_file(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "state.db"
    async with SQLiteResultStore(path, ttl=60, clock=clock) as store:
        for n in range(10):
            await store.put_first((KEY[0], f"job{n}"), resolution(job_id=f"job{n}"))
        clock.advance(61)
        assert await store.get(KEY) is None  # any call past the eviction interval evicts
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM results").fetchone() == (0,)
    connection.close()


async def test_an_unreported_result_outlives_the_ttl(tmp_path: Path, clock: ManualClock) -> None:
    async with SQLiteResultStore(tmp_path / "state.db", ttl=60, clock=clock) as store:
        store.job_tracked(KEY, submitted_at=clock.now, webhook_expected=False)
        await store.put_first(KEY, resolution())
        clock.advance(3600)
        store.job_tracked(("compress", "later"), submitted_at=clock.now, webhook_expected=False)
        assert await store.get(KEY) == resolution()  # the eviction of this batch kept it
        jobs = await store.unreported_jobs("compress")
    assert (KEY[1], True) in {(job.job_id, job.resolved) for job in jobs}


async def test_a_reported_result_expires_after_the_ttl(tmp_path: Path, clock: ManualClock) -> None:
    async with SQLiteResultStore(tmp_path / "state.db", ttl=60, clock=clock) as store:
        store.job_tracked(KEY, submitted_at=clock.now, webhook_expected=False)
        await store.put_first(KEY, resolution())
        store.job_reported(KEY)
        clock.advance(61)
        assert await store.get(KEY) is None
        assert await store.unreported_jobs("compress") == []


async def test_an_unreported_result_is_kept_at_most_unreported_ttl(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "state.db"
    async with SQLiteResultStore(path, ttl=60, unreported_ttl=3600, clock=clock) as store:
        store.job_tracked(KEY, submitted_at=clock.now, webhook_expected=False)
        await store.put_first(KEY, resolution())
        clock.advance(3599)
        assert await store.get(KEY) == resolution()
        clock.advance(2)
        assert await store.get(KEY) is None
        clock.advance(60)  # the next call past the eviction interval evicts
        assert await store.unreported_jobs("compress") == []
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM results").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
    connection.close()


async def test_tracked_jobs_are_listed_until_resolved_or_abandoned(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        for job_id in ("a", "b", "c"):
            store.job_tracked(("compress", job_id), submitted_at=100.0, webhook_expected=False)
        store.job_tracked(("media", "m"), submitted_at=50.0, webhook_expected=True)
        store.job_polled(("compress", "b"), state=JobState.RUNNING, next_poll_at=103.5)
        await store.put_first(("compress", "a"), resolution(job_id="a"))
        store.job_abandoned(("compress", "c"))

        (job,) = await store.unresolved_jobs("compress")
        assert (job.job_id, job.submitted_at, job.last_state, job.next_poll_at) == (
            "b",
            100.0,
            JobState.RUNNING,
            103.5,
        )
        (media,) = await store.unresolved_jobs("media")
        assert media.webhook_expected


async def test_tracking_a_journaled_job_again_keeps_its_submission_time(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        store.job_tracked(KEY, submitted_at=100.0, webhook_expected=False)
        store.job_tracked(KEY, submitted_at=200.0, webhook_expected=True)
        (job,) = await store.unresolved_jobs("compress")
        assert (job.submitted_at, job.webhook_expected) == (100.0, True)


async def test_aclose_commits_every_queued_journal_write(tmp_path: Path) -> None:
    store = SQLiteResultStore(tmp_path / "state.db")
    for n in range(5000):
        store.job_tracked(("compress", f"job{n:05}"), submitted_at=float(n), webhook_expected=False)
    await store.aclose()
    assert not fastwait_threads()
    async with SQLiteResultStore(tmp_path / "state.db") as reopened:
        jobs = await reopened.unresolved_jobs("compress")
    assert [job.job_id for job in jobs] == [f"job{n:05}" for n in range(5000)]


async def test_a_registry_with_state_resolves_waiters_and_remembers_results(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    async with Registry(state=path) as registry:
        waiter = asyncio.create_task(registry.wait(KEY, timeout=5))
        await asyncio.sleep(0)
        assert await registry.publish(resolution().status, source="webhook")
        assert (await waiter).state is JobState.SUCCEEDED
    async with Registry(state=path) as restarted:
        stored = await restarted.wait_resolution(KEY, timeout=0.5)
    assert stored.source == "webhook"


@pytest.mark.parametrize("content", [None, b"this is not a database, just text" * 100])
async def test_an_unusable_path_is_a_configuration_error(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "state.db"
    if content is None:
        path.mkdir()  # a directory
    else:
        path.write_bytes(content)
    async with SQLiteResultStore(path) as store:
        with pytest.raises(ConfigurationError, match=r"state"):
            await store.get(KEY)
        with pytest.raises(ConfigurationError):
            await store.unresolved_jobs("compress")
        store.job_tracked(KEY, submitted_at=None, webhook_expected=False)  # queued, no raise


async def test_a_missing_directory_is_a_configuration_error(tmp_path: Path) -> None:
    async with SQLiteResultStore(tmp_path / "missing" / "state.db") as store:
        with pytest.raises(ConfigurationError, match="cannot open"):
            await store.put_first(KEY, resolution())


async def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version=99")
    connection.close()
    async with SQLiteResultStore(path) as store:
        with pytest.raises(ConfigurationError, match="newer fastwait"):
            await store.get(KEY)


def test_constructing_needs_no_event_loop_and_does_no_io(tmp_path: Path) -> None:
    SQLiteResultStore(tmp_path / "never-created.db")
    assert not (tmp_path / "never-created.db").exists()
    assert not fastwait_threads()


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_a_non_positive_ttl_is_refused(tmp_path: Path, ttl: float) -> None:
    with pytest.raises(ConfigurationError, match="ttl"):
        SQLiteResultStore(tmp_path / "state.db", ttl=ttl)


async def test_calls_after_aclose_are_misuse_but_journal_writes_are_dropped(
    tmp_path: Path,
) -> None:
    store = SQLiteResultStore(tmp_path / "state.db")
    await store.get(KEY)
    await store.aclose()
    await store.aclose()  # idempotent
    store.job_tracked(KEY, submitted_at=None, webhook_expected=False)
    with pytest.raises(RuntimeError, match="closed"):
        await store.get(KEY)
    assert not fastwait_threads()


async def test_an_unreadable_stored_result_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with SQLiteResultStore(path) as store:
        await store.put_first(KEY, resolution())
    connection = sqlite3.connect(path)
    with connection:
        connection.execute('UPDATE results SET resolution = \'{"not": "a resolution"}\'')
    connection.close()
    async with SQLiteResultStore(path) as store:
        assert await store.get(KEY) is None
        assert await store.put_first(KEY, resolution(JobState.FAILED)) == resolution(
            JobState.FAILED
        )
        assert await store.get(KEY) == resolution(JobState.FAILED)


async def test_unreported_jobs_are_the_unresolved_and_the_resolved_never_reported(
    tmp_path: Path,
) -> None:
    async with SQLiteResultStore(tmp_path / "state.db") as store:
        for job_id in ("waiting", "stored", "reported", "reported-early"):
            store.job_tracked(("compress", job_id), submitted_at=100.0, webhook_expected=False)
        for job_id in ("stored", "reported"):
            await store.put_first(("compress", job_id), resolution(job_id=job_id))
        store.job_reported(("compress", "reported"))
        store.job_reported(("compress", "reported-early"))  # a timeout line: not a result

        jobs = await store.unreported_jobs("compress")
        unresolved = await store.unresolved_jobs("compress")

    assert {(job.job_id, job.resolved) for job in jobs} == {
        ("waiting", False),
        ("stored", True),
        ("reported-early", False),
    }
    assert {job.job_id for job in unresolved} == {"waiting", "reported-early"}


async def test_a_version_1_file_is_upgraded_with_its_old_results_counted_as_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE jobs (provider TEXT NOT NULL, job_id TEXT NOT NULL, submitted_at REAL,"
        " next_poll_at REAL, last_state TEXT, webhook_expected INTEGER NOT NULL DEFAULT 0,"
        " resolved_at REAL, PRIMARY KEY (provider, job_id)) WITHOUT ROWID;"
        "INSERT INTO jobs VALUES ('compress', 'old-done', 1.0, NULL, NULL, 0, 5.0);"
        "INSERT INTO jobs VALUES ('compress', 'old-waiting', 2.0, NULL, 'RUNNING', 0, NULL);"
        "PRAGMA user_version=1;"
    )
    connection.close()
    async with SQLiteResultStore(path) as store:
        jobs = await store.unreported_jobs("compress")
    assert [(job.job_id, job.last_state) for job in jobs] == [("old-waiting", JobState.RUNNING)]
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (2,)
    connection.close()
