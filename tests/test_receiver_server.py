"""Serving the receiver: ``serve`` on a port, ``fastwait receive`` and the standalone service."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import seed_payloads as seeds
from aiohttp import web

from fastwait import CallbackTokens, JobState, Registry, StandardWebhookSigner
from fastwait.cli._receive import main
from fastwait.providers import CompressorApp, MediaJobs, ToolsFastCompress
from fastwait.receiver import create_app, receiving_providers, serve
from fastwait.receiver._server import RedactingAccessLogger

BuiltIn = ToolsFastCompress | MediaJobs | CompressorApp

SECRET = "whsec_" + base64.b64encode(b"receiver-tests-hmac-secret-0123").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"receiver-tests-the-other-secret").decode()
TOKENS = CallbackTokens("receiver-tests-callback-secret")
ROOT = Path(__file__).resolve().parent.parent


async def test_serve_on_port_zero_yields_the_bound_url_and_stops_on_exit() -> None:
    async with Registry() as registry:
        app = create_app(registry, [ToolsFastCompress("test-api-key")], callback_tokens=TOKENS)
        async with aiohttp.ClientSession() as session:
            async with serve(app, "127.0.0.1", 0) as url:
                assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url)
                async with session.get(f"{url}/healthz") as response:
                    assert await response.json() == {"status": "ok"}
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"{url}/healthz")


async def test_the_access_log_hides_callback_tokens(caplog: pytest.LogCaptureFixture) -> None:
    token = TOKENS.for_job("media", seeds.MEDIA_DONE["jobId"])
    async with Registry() as registry:
        app = create_app(registry, [MediaJobs("http://media.test")], callback_tokens=TOKENS)
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            async with serve(app) as url, aiohttp.ClientSession() as session:
                response = await session.post(f"{url}/callbacks/{token}", json=seeds.MEDIA_DONE)
                assert response.status == 200
                response.release()
    assert token not in caplog.text
    assert '"POST /callbacks/<token>" 200' in caplog.text


def test_the_access_log_is_skipped_while_its_logger_is_off() -> None:
    logger = logging.getLogger("tests.receiver.access")
    access_log = RedactingAccessLogger(logger, "")
    logger.setLevel(logging.WARNING)
    assert not access_log.enabled
    logger.setLevel(logging.INFO)
    assert access_log.enabled


def test_base_urls_apply_to_all_providers_or_to_the_one_named() -> None:
    providers = receiving_providers(
        ["compress", "media", "compressorapp"],
        ["http://all.test", "media=http://media.test:3000"],
    )
    assert [(p.name, p.base_url) for p in providers if isinstance(p, BuiltIn)] == [
        ("compress", "http://all.test"),
        ("media", "http://media.test:3000"),
        ("compressorapp", "http://all.test"),
    ]
    assert isinstance(providers[2], CompressorApp)


@pytest.mark.parametrize(
    "argv",
    [
        ["--provider", "compress"],
        ["--provider", "media", "--webhook-secret", SECRET],
        ["--provider", "compress", "--webhook-secret", "not-a-secret"],
        ["--provider", "nope", "--webhook-secret", SECRET],
    ],
    ids=["no-secret", "media-without-base-url", "undecodable-secret", "unknown-provider"],
)
def test_the_cli_refuses_to_start_misconfigured(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FASTWAIT_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("FASTWAIT_CALLBACK_SECRET", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert SECRET not in capsys.readouterr().err


async def _webhook_then_sigterm(
    command: list[str], env: dict[str, str], cwd: Path = ROOT
) -> list[str]:
    """Start ``command``, deliver one signed webhook, see it logged, stop it with SIGTERM;
    the lines it wrote on stderr from the webhook's on."""
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=10)
        found = re.search(rb"receiving on (http://\S+) \(compress\)", line)
        assert found, line
        body = json.dumps(seeds.TF_COMPRESS_STATUS).encode()
        headers = {
            **StandardWebhookSigner(SECRET).headers("msg_cli", body),
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession() as session:
            url = f"{found[1].decode()}/hooks/compress"
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200
        logged = await asyncio.wait_for(process.stderr.readline(), timeout=10)
        assert f"compress job {seeds.TF_JOB_ID}: {JobState.SUCCEEDED.name}".encode() in logged
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
        rest = await process.stderr.read()
        assert SECRET.encode() not in rest
        return [logged.decode(), *rest.decode().splitlines()]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_fastwait_receive_applies_a_webhook_and_stops_on_sigterm() -> None:
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress"]
    await _webhook_then_sigterm(command, env)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_fastwait_receive_logs_a_webhook_in_one_line() -> None:
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress"]
    lines = await _webhook_then_sigterm(command, env)
    assert [line for line in lines if seeds.TF_JOB_ID in line] == lines[:1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_fastwait_receive_reads_several_webhook_secrets_from_the_environment() -> None:
    # As the service does: a comma-separated list, for rotation (the new one first).
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": f"{OTHER_SECRET}, {SECRET}"}
    command = [sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress"]
    await _webhook_then_sigterm(command, env)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_fastwait_receive_refuses_a_body_over_max_body_bytes() -> None:
    body = json.dumps(seeds.TF_COMPRESS_STATUS).encode()
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress",
        "--max-body-bytes", str(len(body) - 1), env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=10)
        found = re.search(rb"receiving on (http://\S+) ", line)
        assert found, line
        headers = {
            **StandardWebhookSigner(SECRET).headers("msg_big", body),
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession() as session:
            url = f"{found[1].decode()}/hooks/compress"
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 413
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=10)


def test_the_standalone_service_imports_only_fastwaits_public_api() -> None:
    tree = ast.parse((ROOT / "receiver" / "service.py").read_text())
    modules = [
        name
        for node in ast.walk(tree)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else []
        )
    ]
    fastwait_modules = [name for name in modules if name.split(".")[0] == "fastwait"]
    assert fastwait_modules
    assert [name for name in fastwait_modules if "._" in name] == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_a_receiver_module_of_the_users_own_does_not_shadow_fastwait_receive(
    tmp_path: Path,
) -> None:
    # A service's own receiver.py is first on sys.path for "python -m" run in its folder.
    (tmp_path / "receiver.py").write_text("raise SystemExit('the user module was imported')\n")
    env = {**os.environ, "FASTWAIT_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "fastwait", "receive", "--port", "0", "--provider", "compress"]
    await _webhook_then_sigterm(command, env, cwd=tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_the_standalone_service_is_configured_from_the_environment() -> None:
    env = {
        **os.environ,
        "FASTWAIT_PROVIDERS": "compress",
        "FASTWAIT_WEBHOOK_SECRET": SECRET,
        "FASTWAIT_RECEIVER_PORT": "0",
    }
    await _webhook_then_sigterm([sys.executable, str(ROOT / "receiver" / "service.py")], env)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_the_standalone_service_logs_a_webhook_in_one_line() -> None:
    env = {
        **os.environ,
        "FASTWAIT_PROVIDERS": "compress",
        "FASTWAIT_WEBHOOK_SECRET": SECRET,
        "FASTWAIT_RECEIVER_PORT": "0",
    }
    command = [sys.executable, str(ROOT / "receiver" / "service.py")]
    lines = await _webhook_then_sigterm(command, env)
    assert [line for line in lines if seeds.TF_JOB_ID in line] == lines[:1]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "FASTWAIT_PROVIDERS"),
        ({"FASTWAIT_PROVIDERS": "compress"}, "FASTWAIT_WEBHOOK_SECRET"),
        (
            {"FASTWAIT_PROVIDERS": "nope", "FASTWAIT_WEBHOOK_SECRET": SECRET},
            "FASTWAIT_PROVIDERS",
        ),
        (
            {"FASTWAIT_PROVIDERS": "compress", "FASTWAIT_WEBHOOK_SECRET": "not-a-secret"},
            "FASTWAIT_WEBHOOK_SECRET",
        ),
        (
            {
                "FASTWAIT_PROVIDERS": "compress",
                "FASTWAIT_WEBHOOK_SECRET": SECRET,
                "FASTWAIT_RECEIVER_PORT": "70000",
            },
            "FASTWAIT_RECEIVER_PORT",
        ),
        (
            {
                "FASTWAIT_PROVIDERS": "compress",
                "FASTWAIT_WEBHOOK_SECRET": SECRET,
                "FASTWAIT_HEADER_TIMEOUT": "0",
            },
            "FASTWAIT_HEADER_TIMEOUT",
        ),
        (
            {
                "FASTWAIT_PROVIDERS": "compress",
                "FASTWAIT_WEBHOOK_SECRET": SECRET,
                "FASTWAIT_BODY_TIMEOUT": "soon",
            },
            "FASTWAIT_BODY_TIMEOUT",
        ),
        (
            {
                "FASTWAIT_PROVIDERS": "compress",
                "FASTWAIT_WEBHOOK_SECRET": SECRET,
                "FASTWAIT_MAX_CONNECTIONS": "0",
            },
            "FASTWAIT_MAX_CONNECTIONS",
        ),
    ],
    ids=[
        "no-providers",
        "no-secret",
        "unknown-provider",
        "bad-secret",
        "bad-port",
        "bad-header-timeout",
        "bad-body-timeout",
        "bad-max-connections",
    ],
)
def test_the_standalone_service_refuses_a_bad_environment_in_one_line(
    variables: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTWAIT_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "receiver" / "service.py")],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("fastwait-receiver: error:")
    assert named in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize(
    ("redis_url", "without_redis", "said"),
    [
        ("redis://127.0.0.1:6379/abc", False, "must be a number"),
        ("redis://127.0.0.1:6379/0", True, "needs the redis package"),
    ],
    ids=["database-not-a-number", "redis-package-missing"],
)
def test_the_standalone_service_refuses_an_unusable_redis_in_one_line(
    tmp_path: Path, redis_url: str, without_redis: bool, said: str
) -> None:
    # Exit status 2 is the one its systemd unit does not restart on: a traceback (status 1)
    # would restart it every 2 s for ever.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTWAIT_")}
    if without_redis:  # an installation without the fastwait[redis] extra
        (tmp_path / "redis").mkdir()
        (tmp_path / "redis" / "__init__.py").write_text("raise ImportError('not installed')\n")
        env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "receiver" / "service.py")],
        env={
            **env,
            "FASTWAIT_PROVIDERS": "compress",
            "FASTWAIT_WEBHOOK_SECRET": SECRET,
            "FASTWAIT_REDIS_URL": redis_url,
            "FASTWAIT_RECEIVER_PORT": "0",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("fastwait-receiver: error:")
    assert said in result.stderr


async def test_serve_runs_the_apps_cleanup_on_exit() -> None:
    cleaned: list[str] = []

    async def resource(app: web.Application) -> AsyncIterator[None]:
        yield
        cleaned.append("done")

    app = web.Application()
    app.cleanup_ctx.append(resource)
    async with serve(app):
        assert cleaned == []
    assert cleaned == ["done"]
