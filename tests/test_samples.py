"""The samples keep working: each runs offline against the fake provider."""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


async def run_sample(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_local_dev_submits_waits_and_downloads_into_a_new_folder(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 pretend jpeg")
    code, out, err = await run_sample(
        str(SAMPLES / "local_dev.py"), "--fake", str(photo), f"{tmp_path}/out/"
    )
    assert code == 0, err
    assert (tmp_path / "out" / "photo-compressed.jpg").is_file()
    assert "status requests" in out


async def test_poll_many_accounts_for_every_job() -> None:
    code, out, err = await run_sample(str(SAMPLES / "poll_many.py"), "--fake", "30")
    *_, plan, last = out.strip().splitlines()
    planned = ast.literal_eval(plan.removeprefix("the fake planned "))
    outcomes = ast.literal_eval(last)
    assert sum(planned.values()) == 30, err
    # Each job ends as the fake planned it: no timeout, no error, no failure it did not plan.
    assert outcomes == planned, err
    assert code == (0 if set(outcomes) == {"succeeded"} else 1)


async def test_webhook_service_resolves_jobs_by_webhook() -> None:
    code, out, err = await run_sample(str(SAMPLES / "webhook_service.py"), "--fake")
    assert code == 0, err
    answers = [ast.literal_eval(line) for line in out.strip().splitlines()]
    assert len(answers) == 2
    assert {answer["state"] for answer in answers} == {"SUCCEEDED"}
    assert {answer["source"] for answer in answers} == {"webhook"}


def _metric_values(exposition: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of metric ``name`` in a Prometheus text exposition."""
    found = re.findall(rf"^{name}\{{(.*)\}} (\S+)$", exposition, re.MULTILINE)
    return {labels: float(value) for labels, value in found}


async def test_metrics_counts_polls_errors_and_resolutions_of_every_job() -> None:
    code, out, err = await run_sample(str(SAMPLES / "metrics.py"), "--fake", "20")
    polls = _metric_values(out, "fastwait_polls_total")
    assert set(polls) == {'provider="compress"'}
    assert polls['provider="compress"'] >= 20, err
    errors = _metric_values(out, "fastwait_poll_errors_total")
    assert errors == {'error="ServerError",kind="transient",provider="compress"': 3.0}
    resolutions = _metric_values(out, "fastwait_resolutions_total")
    assert sum(resolutions.values()) == 20
    assert set(resolutions) <= {
        'provider="compress",source="poll",state="SUCCEEDED"',
        'provider="compress",source="poll",state="FAILED"',
    }
    lags = _metric_values(out, "fastwait_resolution_lag_seconds_count")
    assert lags == {'provider="compress",source="poll"': 20.0}
    failed = resolutions.get('provider="compress",source="poll",state="FAILED"', 0)
    assert code == (1 if failed else 0)
