"""A user's own job API, awaited through the provider docs/guides/provider-plugins.md teaches.

Every code block of the guide runs here exactly as written, against the example API of
``example_job_api`` on loopback, with the guide's stand-ins replaced (its API root, webhook
secret, public URL and port): the status-only provider polled to the end, a JSON submit called
back by a Standard Webhooks-signed delivery, and the plugin package — its ``pyproject.toml``
and module taken from the page — pip-installed into a fresh virtual environment, where the
``fastwait`` command finds it, waits with it and receives its webhooks, beside a plugin that
fails to import and one that takes a built-in's name.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from example_job_api import API_KEY, ExampleApi, serve_example_api

from fastwait import (
    CallbackBindings,
    CallbackTokens,
    Client,
    JobFailed,
    JobState,
    PollPolicy,
    Registry,
    StandardWebhookSigner,
    StandardWebhookVerifier,
    receiver,
)
from fastwait.cli._providers import list_providers
from fastwait.cli._receive import main as receive_main
from fastwait.exceptions import (
    AuthenticationError,
    BadResponseError,
    ConfigurationError,
    NotFoundError,
    UnsupportedOperationError,
)
from fastwait.providers import (
    PROVIDERS,
    ApiRequest,
    InstalledProvider,
    Provider,
    installed_providers,
    provider_class,
)
from fastwait.providers._installed import _BUILT_INS
from fastwait.receiver import receiving_providers

ROOT = Path(__file__).resolve().parent.parent
GUIDE_PATH = ROOT / "docs/guides/provider-plugins.md"
GUIDE = GUIDE_PATH.read_text()
MARKER = "<!-- run-by: tests/test_provider_plugins.py -->"
SECRET = "whsec_" + base64.b64encode(b"provider-plugins-guide-secret-01").decode()
FAST = PollPolicy(floor=0.05, ceiling=0.2, jitter=0.0)


def guide_blocks(language: str) -> list[str]:
    """The guide's ```LANGUAGE blocks, in order; each must say this file runs it."""
    blocks = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```$", GUIDE, re.DOTALL | re.MULTILINE):
        preceding = GUIDE[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        assert preceding == MARKER, f"a ```{language} block of the guide is not marked run-by"
        blocks.append(match[1])
    return blocks


PROVIDER_MODULE, WAIT_SCRIPT, WEBHOOK_SCRIPT = guide_blocks("python")
(PYPROJECT,) = guide_blocks("toml")
(COMMANDS,) = guide_blocks("sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stand_ins(text: str, api: ExampleApi, port: int) -> str:
    """The guide's placeholders for the reader's own settings, made the test's."""
    for stand_in, value in {
        "https://api.example.com": api.url,
        "whsec_...": SECRET,
        "https://svc.example.com": f"http://127.0.0.1:{port}",
        "8080": str(port),
    }.items():
        text = text.replace(stand_in, value)
    return text


def provider_module(tmp_path: Path) -> ModuleType:
    """The guide's ``myapi.py``, imported as a user's module is."""
    path = tmp_path / "myapi.py"
    path.write_text(PROVIDER_MODULE)
    spec = importlib.util.spec_from_file_location(f"myapi_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def example_api() -> AsyncIterator[ExampleApi]:
    async with serve_example_api(StandardWebhookSigner(SECRET)) as api:
        yield api


async def run(
    *command: str, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env={k: v for k, v in {**os.environ, **(env or {})}.items() if not k.startswith("PYTEST_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


# --- the guide's Python, as written ----------------------------------------------------------


def test_the_guide_blocks_are_all_run_here() -> None:
    assert "class MyApi(Provider)" in PROVIDER_MODULE
    assert "client.wait(" in WAIT_SCRIPT
    assert "/hooks/" not in WEBHOOK_SCRIPT  # the route comes from the provider's name
    assert 'myapi = "fastwait_myapi:MyApi"' in PYPROJECT


def test_the_status_only_provider_stays_short() -> None:
    # The class, checks of the payload included, without blank lines and its docstring.
    source = PROVIDER_MODULE[PROVIDER_MODULE.index("class MyApi") :]
    code = [line for line in source.splitlines() if line.strip() and '"""' not in line]
    assert len(code) <= 30, len(code)


async def test_the_guides_status_only_provider_awaits_a_job_by_polling(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    example_api.add_job("j-42", ("running", 60), ("done", 100))
    (tmp_path / "myapi.py").write_text(PROVIDER_MODULE)
    (tmp_path / "wait_for.py").write_text(stand_ins(WAIT_SCRIPT, example_api, free_port()))
    code, out, err = await run(sys.executable, "wait_for.py", cwd=tmp_path)
    assert code == 0, out + err
    assert out == f"SUCCEEDED {example_api.url}/v1/jobs/j-42/result\n"
    assert example_api.jobs["j-42"].polls == 2  # running, then done: polled to the end
    assert (tmp_path / "results" / "result.txt").read_bytes() == b"the result of j-42"


async def test_the_guides_json_submit_is_called_back_by_a_signed_webhook(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "myapi.py").write_text(PROVIDER_MODULE)
    (tmp_path / "submit.py").write_text(stand_ins(WEBHOOK_SCRIPT, example_api, port))
    code, out, err = await run(sys.executable, "submit.py", cwd=tmp_path)
    assert code == 0, out + err
    assert out == "120 jobs left\nSUCCEEDED by webhook\n"
    assert example_api.submitted == [
        (
            "application/json",
            {
                "input_url": "https://example.com/photo.jpg",
                "callback_url": f"http://127.0.0.1:{port}/fastwait/hooks/myapi",
            },
        )
    ]
    assert example_api.deliveries == [204] or example_api.deliveries == [200]


# --- the same provider in-process: errors, webhooks without a signature ----------------------


async def test_an_unknown_job_is_not_found_by_the_default_error_mapping(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    myapi = provider_module(tmp_path)
    async with Client(myapi.MyApi(API_KEY, example_api.url), policy=FAST) as client:
        with pytest.raises(NotFoundError) as raised:
            await client.wait("j-404", timeout=10)
    assert (raised.value.code, raised.value.detail) == ("not_found", "no such job")


async def test_a_refused_key_is_an_authentication_error_that_never_shows_the_key(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    myapi = provider_module(tmp_path)
    async with Client(myapi.MyApi("wrong-key-123", example_api.url)) as client:
        with pytest.raises(AuthenticationError) as raised:
            await client.status("j-42")
    assert raised.value.detail == "bad key [redacted]"
    assert "wrong-key-123" not in str(raised.value)


async def test_an_unmapped_status_name_is_a_bad_response_not_still_running(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    myapi = provider_module(tmp_path)
    example_api.add_job("j-7", ("paused", 10))
    async with Client(myapi.MyApi(API_KEY, example_api.url)) as client:
        with pytest.raises(BadResponseError, match=r"unknown job status 'paused' @ \$\.status"):
            await client.status("j-7")


async def test_a_job_that_ends_in_error_fails_the_wait(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    myapi = provider_module(tmp_path)
    example_api.add_job("j-8", ("running", 20), ("error", 20))
    async with Client(myapi.MyApi(API_KEY, example_api.url), policy=FAST) as client:
        with pytest.raises(JobFailed) as raised:
            await client.wait("j-8", timeout=10)
    assert raised.value.status.state is JobState.FAILED


async def test_what_the_status_only_provider_does_not_write_is_unsupported(
    tmp_path: Path,
) -> None:
    api = provider_module(tmp_path).MyApi(API_KEY)
    for operation in (api.cancel_request, api.delete_request):
        with pytest.raises(UnsupportedOperationError, match="myapi"):
            operation("j-42")
    with pytest.raises(UnsupportedOperationError):
        api.submit_request(None, {})
    async with Client(api) as client:
        with pytest.raises(UnsupportedOperationError):
            await client.wait("j-42", timeout=1, cancel_remote=True)


async def test_a_json_submit_takes_no_file_and_a_multipart_one_needs_one(
    example_api: ExampleApi, tmp_path: Path
) -> None:
    myapi = provider_module(tmp_path)

    class JsonSubmit(myapi.MyApi):  # type: ignore[name-defined,misc]
        name = "myapi-json"

        def submit_request(
            self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
        ) -> ApiRequest:
            return ApiRequest("POST", f"{self.base_url}/v1/jobs", self.headers(), json=options)

        def headers(self) -> dict[str, str]:
            return {"Authorization": f"Bearer {self.api_key}"}

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg")
    async with Client(JsonSubmit(API_KEY, example_api.url)) as client:
        with pytest.raises(ConfigurationError, match="takes no file"):
            await client.submit(photo, input_url="x")
        accepted = await client.submit(input_url="https://example.com/a.png")
    assert (accepted.id, accepted.provider, accepted.state) == (
        "j-2",
        "myapi-json",
        JobState.QUEUED,
    )


async def test_a_user_provider_that_cannot_sign_is_called_back_through_a_callback_token(
    tmp_path: Path,
) -> None:
    myapi = provider_module(tmp_path)

    class Unsigned(myapi.MyApi):  # type: ignore[name-defined,misc]
        name = "myapi-unsigned"
        signs_webhooks = False

        def submit_request(
            self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
        ) -> ApiRequest:
            headers = {"Authorization": f"Bearer {self.api_key}"}
            body = {**options, "callback_url": callback_url}
            return ApiRequest("POST", f"{self.base_url}/v1/jobs", headers, json=body)

    async with serve_example_api(signer=None) as example, Registry() as registry:
        api = Unsigned(API_KEY, example.url)
        tokens, bindings = CallbackTokens(SECRET), CallbackBindings()
        app = receiver.create_app(registry, [api], callback_tokens=tokens, bindings=bindings)
        async with (
            receiver.serve(app) as url,
            Client(
                api,
                registry=registry,
                callback_url=url,
                webhook_secret=SECRET,
                callback_bindings=bindings,
            ) as client,
        ):
            accepted = await client.submit(input_url="https://example.com/a.png")
            resolution = await client.wait_resolution(accepted.id, timeout=10)
    assert (resolution.status.state, resolution.source) == (JobState.SUCCEEDED, "webhook")
    ((_, body),) = example.submitted
    assert body["callback_url"].startswith(f"{url}/callbacks/")


def test_a_provider_name_that_cannot_name_a_route_is_refused_at_definition() -> None:
    with pytest.raises(ConfigurationError, match="must be 1-63 of a-z 0-9"):

        class Spaced(Provider):
            name = "my api"

            def status_request(self, job_id: str) -> ApiRequest:
                raise NotImplementedError

            def parse_status(self, payload: Any, *, keep_raw: bool = False) -> Any:
                raise NotImplementedError


# --- the plugin package, pip-installed into a fresh environment ------------------------------

BROKEN_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "fastwait-broken"
version = "0.3.0"

[project.entry-points."fastwait.providers"]
broken = "fastwait_broken:Broken"
"""

TWIN_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "fastwait-twin"
version = "1.2.0"

[project.entry-points."fastwait.providers"]
media = "fastwait_twin:Media"
"""


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment seeing this one's packages (fastwait, hatchling, pip) with three
    plugins installed by pip: the guide's, one that fails to import, one that reuses a name."""
    root = tmp_path_factory.mktemp("plugins")
    guide = root / "fastwait-myapi"
    (guide / "fastwait_myapi").mkdir(parents=True)
    (guide / "pyproject.toml").write_text(PYPROJECT)
    (guide / "fastwait_myapi" / "__init__.py").write_text(PROVIDER_MODULE)
    broken = root / "fastwait-broken"
    (broken / "fastwait_broken").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "fastwait_broken" / "__init__.py").write_text("import fastwait_no_such_module\n")
    twin = root / "fastwait-twin"
    (twin / "fastwait_twin").mkdir(parents=True)
    (twin / "pyproject.toml").write_text(TWIN_PYPROJECT)
    (twin / "fastwait_twin" / "__init__.py").write_text(
        "from fastwait.providers import MediaJobs as Media\n"
    )
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]
    Path(site_packages, "outer_environment.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    pip = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    installed = subprocess.run(
        [*pip, "-q", str(guide), str(broken), str(twin)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


def command_lines() -> dict[str, list[str]]:
    """The guide's ``fastwait`` command lines by subcommand, split as a shell would."""
    lines = [shlex.split(line) for line in COMMANDS.splitlines() if line.startswith("fastwait ")]
    return {words[1]: words for words in lines}


def test_the_guide_installs_with_pip_and_names_the_package_folder() -> None:
    assert COMMANDS.splitlines()[0] == "pip install ./fastwait-myapi"
    assert "export FASTWAIT_API_KEY=my-api-key" in COMMANDS.splitlines()


async def test_fastwait_providers_lists_installed_plugins_by_origin_and_names_the_broken(
    plugin_env: Path, tmp_path: Path
) -> None:
    words = command_lines()["providers"]
    code, out, err = await run(str(plugin_env), "-m", *words, cwd=tmp_path)
    rows = [line.split() for line in out.splitlines()]
    assert ["myapi", "fastwait-myapi", "0.1.0", "fastwait_myapi:MyApi"] in rows
    assert ["compress", "built-in", "fastwait.providers:ToolsFastCompress"] in rows
    assert ["broken", "fastwait-broken", "0.3.0", "fastwait_broken:Broken"] in rows
    assert ["media", "fastwait-twin", "1.2.0", "fastwait_twin:Media"] in rows
    assert code == 1
    assert sorted(err.splitlines()) == [
        "fastwait: error: provider 'broken' (fastwait-broken 0.3.0) cannot be loaded: "
        "ModuleNotFoundError: No module named 'fastwait_no_such_module'",
        "fastwait: error: provider 'media' is declared twice, by built-in "
        "(fastwait.providers:MediaJobs) and by fastwait-twin 1.2.0 (fastwait_twin:Media): "
        "uninstall one of them",
    ]


async def test_fastwait_wait_awaits_a_job_with_the_installed_plugin(
    plugin_env: Path, tmp_path: Path
) -> None:
    async with serve_example_api() as api:
        api.add_job("j-42", ("done", 100))
        words = command_lines()["wait"]
        line = stand_ins(shlex.join(words), api, free_port())
        code, out, err = await run(
            str(plugin_env), "-m", *shlex.split(line), "--jsonl", cwd=tmp_path,
            env={"FASTWAIT_API_KEY": API_KEY},
        )  # fmt: skip
    assert code == 0, out + err
    assert '"provider":"myapi","id":"j-42","state":"SUCCEEDED","source":"poll"' in out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "broken",
            "fastwait: error: provider 'broken' (fastwait-broken 0.3.0) cannot be loaded: "
            "ModuleNotFoundError: No module named 'fastwait_no_such_module'\n",
        ),
        (
            "media",
            "fastwait: error: provider 'media' is declared twice, by built-in "
            "(fastwait.providers:MediaJobs) and by fastwait-twin 1.2.0 (fastwait_twin:Media): "
            "uninstall one of them\n",
        ),
    ],
)
async def test_a_provider_that_cannot_be_used_is_refused_in_one_line_naming_it(
    plugin_env: Path, tmp_path: Path, name: str, message: str
) -> None:
    code, out, err = await run(
        str(plugin_env), "-m", "fastwait", "wait", "--provider", name, "--api-key", "k",
        "--base-url", "http://127.0.0.1:9", "j-1", cwd=tmp_path,
    )  # fmt: skip
    assert (code, out, err) == (2, "", message)


async def test_fastwait_receive_verifies_the_installed_providers_webhooks(
    plugin_env: Path, tmp_path: Path
) -> None:
    port = free_port()
    words = shlex.split(stand_ins(shlex.join(command_lines()["receive"]), ExampleApi(), port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    process = await asyncio.create_subprocess_exec(
        str(plugin_env), "-m", *words, cwd=tmp_path, stderr=asyncio.subprocess.PIPE, env=env
    )
    assert process.stderr is not None
    try:
        listening = await asyncio.wait_for(process.stderr.readline(), timeout=30)
        assert f"receiving on http://127.0.0.1:{port}" in listening.decode()
        body = b'{"id": "j-42", "status": "done", "progress": 100, "result_url": "/r/j-42"}'
        timestamp = int(time.time())
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": StandardWebhookSigner(SECRET).sign("msg_1", timestamp, body),
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/hooks/myapi"
            async with session.post(url, data=body, headers=headers) as answer:
                assert answer.status in (200, 204)
            async with session.post(
                url, data=body, headers={**headers, "webhook-signature": "v1,AAAA"}
            ) as forged:
                assert forged.status == 401
        logged = await asyncio.wait_for(process.stderr.readline(), timeout=30)
        assert re.search(r"\bmyapi\b.*\bj-42\b.*\bSUCCEEDED\b", logged.decode()), logged
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
    assert process.returncode == 0


# --- finding providers by name, in this environment -------------------------------------------


def test_fastwait_declares_exactly_its_built_ins_in_the_entry_point_group() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["fastwait.providers"] == _BUILT_INS
    assert {name: provider_class(name) for name in _BUILT_INS} == dict(PROVIDERS)


def test_the_built_ins_are_installed_providers_of_origin_built_in() -> None:
    assert [(p.name, p.origin) for p in installed_providers()] == [
        ("compress", "built-in"),
        ("compressorapp", "built-in"),
        ("convert", "built-in"),
        ("media", "built-in"),
    ]


def test_fastwait_providers_lists_the_built_ins_and_exits_0() -> None:
    out, errors = io.StringIO(), io.StringIO()
    assert list_providers(out, errors) == 0
    assert out.getvalue().splitlines()[1].split() == [
        "compress",
        "built-in",
        "fastwait.providers:ToolsFastCompress",
    ]
    assert errors.getvalue() == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "fastwait_not_a_module:Api",
            "provider 'mine' (a-dist 1.0) cannot be loaded: ModuleNotFoundError: "
            "No module named 'fastwait_not_a_module'",
        ),
        (
            "fastwait.providers:NoSuchClass",
            "provider 'mine' (a-dist 1.0) cannot be loaded: AttributeError: module "
            "'fastwait.providers' has no attribute 'NoSuchClass'",
        ),
        (
            "fastwait.providers:ApiRequest",
            "provider 'mine' (a-dist 1.0) is fastwait.providers:ApiRequest, which is not a "
            "fastwait Provider subclass",
        ),
        (
            "fastwait.providers:Provider",
            "provider 'mine' (a-dist 1.0) is fastwait.providers:Provider, which does not "
            "implement status_request and parse_status",
        ),
        (
            "fastwait.providers:MediaJobs",
            "provider 'mine' (a-dist 1.0) is fastwait.providers:MediaJobs, whose name is "
            "'media': declare it under its own name",
        ),
    ],
)
def test_a_provider_that_cannot_be_loaded_is_one_line_naming_it_and_its_origin(
    target: str, message: str
) -> None:
    installed = [InstalledProvider("mine", "a-dist 1.0", target), *installed_providers()]
    with pytest.raises(ConfigurationError) as raised:
        provider_class("mine", installed)
    assert str(raised.value) == message
    assert provider_class("convert", installed) is PROVIDERS["convert"]


def test_a_plugin_whose_import_raises_a_multi_line_error_is_still_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fastwait_syntax_error_plugin.py").write_text("def broken(:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = [InstalledProvider("bad", "bad-dist 2", "fastwait_syntax_error_plugin:Api")]
    with pytest.raises(ConfigurationError) as raised:
        provider_class("bad", installed)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("provider 'bad' (bad-dist 2) cannot be loaded: SyntaxError")


def test_two_origins_of_one_name_are_both_refused_naming_both() -> None:
    installed = [
        InstalledProvider("media", "other-media 3.1", "fastwait.providers:MediaJobs"),
        *installed_providers(),
    ]
    with pytest.raises(ConfigurationError) as raised:
        provider_class("media", installed)
    assert str(raised.value) == (
        "provider 'media' is declared twice, by built-in (fastwait.providers:MediaJobs) and by "
        "other-media 3.1 (fastwait.providers:MediaJobs): uninstall one of them"
    )


def test_an_unknown_name_lists_the_known_ones() -> None:
    installed = [InstalledProvider("zeta", "z 1", "z:Z"), *installed_providers()]
    with pytest.raises(ConfigurationError, match=r"^unknown provider 'nope' \(known: compress, "):
        provider_class("nope", installed)
    with pytest.raises(ConfigurationError, match=r"convert, media, zeta\)$"):
        provider_class("nope", installed)


def test_the_receiver_builds_a_provider_class_it_is_given(tmp_path: Path) -> None:
    myapi = provider_module(tmp_path)
    (built,) = receiving_providers([myapi.MyApi], ["myapi=http://127.0.0.1:9/api"])
    assert isinstance(built, myapi.MyApi)
    assert built.base_url == "http://127.0.0.1:9/api"


async def test_the_providers_command_is_wired_into_fastwait(tmp_path: Path) -> None:
    code, out, err = await run(sys.executable, "-m", "fastwait", "providers", cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out.splitlines()[0].split() == ["NAME", "ORIGIN", "ENTRY", "POINT"]
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "compress",
        "compressorapp",
        "convert",
        "media",
    ]


def test_fastwait_receive_refuses_an_unknown_provider_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        receive_main(["--provider", "nope", "--webhook-secret", SECRET], prog="fastwait receive")
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "fastwait receive: error: unknown provider 'nope' "
        "(known: compress, compressorapp, convert, media)\n"
    )


async def test_a_signed_webhook_that_names_no_job_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    api = provider_module(tmp_path).MyApi(API_KEY)
    body = b'{"status": "done", "progress": 100, "result_url": null}'
    timestamp = int(time.time())
    headers = {
        "webhook-id": "msg_anonymous",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": StandardWebhookSigner(SECRET).sign("msg_anonymous", timestamp, body),
        "Content-Type": "application/json",
    }
    async with Registry() as registry:
        verifier = StandardWebhookVerifier([SECRET])
        app = receiver.create_app(registry, [api], verifier=verifier)
        async with (
            receiver.serve(app) as url,
            aiohttp.ClientSession() as session,
            session.post(f"{url}/hooks/myapi", data=body, headers=headers) as answer,
        ):
            assert (answer.status, await answer.json()) == (400, {"error": "no_job_id"})
        assert await registry.resolution(("myapi", "")) is None
