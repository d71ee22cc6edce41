"""The server recipes of docs/guides/sync.md, run as written under real servers.

Each block marked ``<!-- run-by: tests/test_sync_recipes.py -->`` is read from the page, its
stand-ins replaced as for every documentation block (the fake's URL, ``test-key``, a webhook
secret, a free local port; here also the Redis URLs of the Celery recipe), saved in a fresh
folder holding ``photo.jpg`` and run in a process of its own: Flask and Django under waitress,
answering a request whose view waits for a job that the fake's signed webhook, received by the
recipe's own WSGI receiver, resolves; the Celery task in a real worker fed through Redis.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis_support import REDIS_URL, require_redis

from fastwait.testing import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "guides" / "sync.md"
MARKED = re.compile(
    r"^<!-- run-by: tests/test_sync_recipes\.py -->\n```python\n(.*?)^```$",
    re.DOTALL | re.MULTILINE,
)
SECRET = "whsec_" + base64.b64encode(b"sync-recipes-webhook-secret-0123").decode()
# Run as the script itself (run_name "__main__"), with INFO logs shown: waitress then says
# "Serving on http://..." once it listens, the line the test awaits.
WITH_INFO_LOGS = (
    "import logging, runpy, sys; logging.basicConfig(level=logging.INFO);"
    " runpy.run_path(sys.argv[1], run_name='__main__')"
)


def recipe(marker: str) -> str:
    """The one marked block of the page that contains ``marker``."""
    blocks: list[str] = MARKED.findall(PAGE.read_text())
    [block] = [block for block in blocks if marker in block]
    return block


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def as_run_here(block: str, fake: FakeProvider, port: int, **more: str) -> str:
    stand_ins = {
        "https://api.tools.fast": fake.url,
        "fast_prod_...": "test-key",
        "whsec_...": SECRET,
        "https://svc.example.com": f"http://127.0.0.1:{port}",
        "8080": str(port),
        **more,
    }
    for stand_in, value in stand_ins.items():
        block = block.replace(stand_in, value)
    return block


def child_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(seed=1, durations=0.5, webhook_secret=SECRET) as provider:
        yield provider


def test_the_page_marks_three_server_recipes() -> None:
    assert len(MARKED.findall(PAGE.read_text())) == 3


async def serve_and_compress(block: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Run the server recipe ``block``, POST /compress once, stop it with Ctrl-C; the answer
    and what the process wrote on stderr."""
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a pretend jpeg")
    script = tmp_path / "recipe.py"
    script.write_text(block)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", WITH_INFO_LOGS, str(script)),
        cwd=tmp_path,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while b"Serving on http://" not in (line := await process.stderr.readline()):
                assert line, b"".join(seen).decode()  # it ended before it served
                seen.append(line)
            url = line.decode().rsplit("Serving on ", 1)[1].strip()
            async with aiohttp.ClientSession() as http, http.post(f"{url}/compress") as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
        process.send_signal(signal.SIGINT)  # waitress stops; atexit closes the client
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return answer, (b"".join(seen) + stderr).decode()


def assert_closed_cleanly(stderr: str) -> None:
    assert "Exception ignored" not in stderr, stderr
    assert "unclosed" not in stderr, stderr
    assert "Traceback" not in stderr.split("KeyboardInterrupt")[-1], stderr


async def test_the_flask_recipe_wakes_its_view_by_webhook(
    fake: FakeProvider, tmp_path: Path
) -> None:
    block = as_run_here(recipe("Flask("), fake, free_port())
    answer, stderr = await serve_and_compress(block, tmp_path)
    assert answer == {"state": "SUCCEEDED", "source": "webhook"}
    assert_closed_cleanly(stderr)


async def test_the_django_recipe_wakes_its_view_by_webhook(
    fake: FakeProvider, tmp_path: Path
) -> None:
    block = as_run_here(recipe("django.setup()"), fake, free_port())
    answer, stderr = await serve_and_compress(block, tmp_path)
    assert answer == {"state": "SUCCEEDED", "source": "webhook"}
    assert_closed_cleanly(stderr)


@pytest.mark.redis
async def test_the_celery_task_runs_in_a_real_worker(fake: FakeProvider, tmp_path: Path) -> None:
    require_redis()
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a pretend jpeg")
    block = as_run_here(
        recipe("Celery("),
        fake,
        free_port(),
        **{
            # The test server and database (FASTWAIT_TEST_REDIS_URL), for broker and results
            "redis://localhost:6379/0": REDIS_URL,
            "redis://localhost:6379/1": REDIS_URL,
        },
    )
    (tmp_path / "tasks.py").write_text(block)
    queue = f"fastwait-recipe-{secrets.token_hex(6)}"  # never another run's tasks
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel=WARNING"),
        *("--pool=prefork", "--concurrency=1", "-Q", queue),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        cwd=tmp_path,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    caller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import tasks; print(tasks.compress.apply_async(('photo.jpg',), queue={queue!r})"
        ".get(timeout=60))",
        cwd=tmp_path,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        printed, caller_errors = await asyncio.wait_for(caller.communicate(), timeout=90)
        worker.send_signal(signal.SIGTERM)  # a warm shutdown: the process closes its client
        _, worker_errors = await asyncio.wait_for(worker.communicate(), timeout=60)
    finally:
        for process in (caller, worker):
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert caller.returncode == 0, caller_errors.decode() + worker_errors.decode()
    saved = Path(printed.decode().strip())
    assert saved.parent.name == "out"
    assert (tmp_path / "out" / saved.name).is_file()
    assert worker.returncode == 0, worker_errors.decode()
    assert_closed_cleanly(worker_errors.decode())
