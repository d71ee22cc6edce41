"""Every framework recipe of docs/guides/frameworks.md runs under uvicorn and wakes a waiter.

Each block marked ``<!-- run-by: tests/test_framework_recipes.py -->`` is read from the page,
its stand-ins replaced as for every documentation block (the fake's URL, its API key, a secret,
a free local port), saved as ``recipe.py`` and served by ``python -m uvicorn recipe:app`` on
that loopback port, lifespan on. The fake holds a job that runs for minutes, so polling only
ever sees it running; a request to the recipe's ``/jobs/{id}`` waits on it, and once the
recipe's client is polling that job (so its wait is registered), a Standard Webhooks
delivery signed with the secret is posted to ``/fastwait/hooks/compress``. The waiting
request must answer with the job SUCCEEDED: only the webhook could have said so.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import seed_payloads as seeds

from fastwait import StandardWebhookSigner
from fastwait.testing import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "guides" / "frameworks.md"
MARKER = "<!-- run-by: tests/test_framework_recipes.py -->"
RECIPE = re.compile(
    "^" + re.escape(MARKER) + r"\n```python\n(?P<code>.*?)^```$", re.DOTALL | re.MULTILINE
)
HEADING = re.compile(r"^## (.*)$", re.MULTILINE)
SECRET = "whsec_" + base64.b64encode(b"framework-recipes-webhook-key-01").decode()
MARGIN = 30.0  # seconds: a guard against a recipe that hangs, never a measure of speed


def recipes() -> list[pytest.ParameterSet]:
    text = PAGE.read_text()
    found = []
    for match in RECIPE.finditer(text):
        heading = HEADING.findall(text, 0, match.start())[-1]
        found.append(
            pytest.param(match["code"], id=re.sub(r"\W+", "-", heading).strip("-").lower())
        )
    assert len(found) == text.count(MARKER), "a marked block is not a ```python block"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stand_ins(fake: FakeProvider, port: int) -> dict[str, str]:
    return {
        "https://api.tools.fast": fake.url,
        "fast_prod_...": "test-key",
        "whsec_...": SECRET,
        "https://svc.example.com": f"http://127.0.0.1:{port}",
    }


async def until_serving(
    http: aiohttp.ClientSession, url: str, server: asyncio.subprocess.Process
) -> None:
    """Until the mounted receiver answers its health check (or the server exits)."""
    while True:
        try:
            async with http.get(f"{url}/fastwait/healthz") as response:
                assert response.status == 200, await response.text()
                assert await response.json() == {"status": "ok"}
                return
        except aiohttp.ClientConnectionError:
            assert server.returncode is None, "the recipe's server exited"
            await asyncio.sleep(0.05)


async def until_polled(fake: FakeProvider, job_id: str) -> None:
    """Until the recipe's client has asked the fake about the job: its wait is registered."""
    # The recipe runs in another process: there is no event to await, only the fake's counter.
    while fake.job("compress", job_id).requests == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def test_the_page_has_a_recipe_per_asgi_framework() -> None:
    names = {param.id for param in recipes()}
    assert {"fastapi", "starlette", "litestar", "django-asgi"} <= names


@pytest.mark.parametrize("code", recipes())
async def test_the_recipe_wakes_its_waiting_endpoint_with_a_signed_webhook(
    code: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with FakeProvider(seed=1) as fake, aiohttp.ClientSession() as http:
        for stand_in, value in stand_ins(fake, port).items():
            code = code.replace(stand_in, value)
        (tmp_path / "recipe.py").write_text(code)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        server = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "uvicorn", "recipe:app", "--host", "127.0.0.1"),
            *("--port", str(port), "--lifespan", "on", "--log-level", "warning"),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(MARGIN):
                await until_serving(http, url, server)
                job_id = fake.create_job("compress", duration=600)
                waiting = asyncio.create_task(http.get(f"{url}/jobs/{job_id}"))
                await until_polled(fake, job_id)
                assert not waiting.done()

                body = json.dumps({**seeds.TF_COMPRESS_STATUS, "id": job_id}).encode()
                headers = StandardWebhookSigner(SECRET).headers(f"msg_{job_id}", body)
                headers["Content-Type"] = "application/json"
                async with http.post(
                    f"{url}/fastwait/hooks/compress", data=body, headers=headers
                ) as delivery:
                    assert (delivery.status, await delivery.json()) == (
                        200,
                        {"status": "accepted"},
                    )
                async with await waiting as answer:
                    assert answer.status == 200, await answer.text()
                    assert await answer.json() == {"id": job_id, "state": "SUCCEEDED"}
        finally:
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)  # the lifespan closes the client
            _, stderr = await asyncio.wait_for(server.communicate(), timeout=MARGIN)
    # uvicorn shuts down cleanly on SIGTERM, then dies of it again for its parent to see.
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode()
    assert "Traceback" not in stderr.decode(), stderr.decode()
    assert "ERROR" not in stderr.decode(), stderr.decode()
