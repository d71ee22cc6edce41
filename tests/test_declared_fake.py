"""The fake plays a declared API from the same spec the client compiles: end to end over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path

import attrs
import pytest

from fastwait import (
    CallbackBindings,
    CallbackTokens,
    Client,
    JobCanceled,
    JobFailed,
    JobState,
    PollPolicy,
    Registry,
    StandardWebhookVerifier,
    receiver,
)
from fastwait.exceptions import AuthenticationError, BadResponseError, ConfigurationError
from fastwait.providers import (
    ApiSpec,
    Auth,
    DeclaredProvider,
    States,
    Status,
    Submit,
    google_operation,
    load_spec,
    microsoft_operation,
)
from fastwait.testing import FakeProvider

SPEC = """
name = "myapi"
base_url = "https://api.example.com"

[auth]
env = "MYAPI_TOKEN"

[status]
path = "/v1/jobs/{id}"
state = "status"
progress = "progress"
output_url = "result_url"
error_code = "error.code"
error_detail = "error.message"

[states]
queued = "queued"
running = "running"
succeeded = "done"
failed = "error"
canceled = "canceled"

[submit]
path = "/v1/jobs"
body = "json"
callback_field = "callback_url"

[cancel]
path = "/v1/jobs/{id}/cancel"

[errors]
code = "error.code"
detail = "error.message"
"""
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST = PollPolicy(first_poll=0.05, blind_first_poll=0.05, floor=0.02, blind_step=0.05, ceiling=0.5)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "myapi.toml"
    path.write_text(SPEC)
    return path


async def test_a_declared_spec_is_awaited_by_poll_and_its_output_downloaded(
    spec_file: Path, tmp_path: Path
) -> None:
    async with FakeProvider(seed=1, durations=0.3, specs=[spec_file]) as fake:
        job_id = fake.create_job("myapi")
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            running = await client.status(job_id)
            status = await client.wait(job_id, timeout=10)
            saved = await client.download(job_id, tmp_path / "out", status=status)
        assert running.state in (JobState.QUEUED, JobState.RUNNING)
        assert running.progress_percent is not None
        assert (status.state, status.progress_percent) == (JobState.SUCCEEDED, 100.0)
        assert saved.name == "output.bin"
        assert saved.read_bytes()
        assert fake.job("myapi", job_id).terminal_seen_at is not None


async def test_the_client_and_the_fake_read_one_spec_file(spec_file: Path) -> None:
    async with FakeProvider(seed=1, durations=0.2, specs=[spec_file]) as fake:
        api = DeclaredProvider(
            load_spec(spec_file),
            base_url=fake.base_url("myapi"),
            environ={"MYAPI_TOKEN": "test-key"},
        )
        async with Client(api, policy=FAST) as client:
            assert (await client.wait(fake.create_job("myapi"), timeout=10)).id


async def test_a_failed_job_carries_the_code_and_detail_at_the_declared_paths(
    spec_file: Path,
) -> None:
    async with FakeProvider(seed=1, durations=0.2, specs=[spec_file]) as fake:
        job_id = fake.create_job("myapi", fail=True)
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            with pytest.raises(JobFailed) as failed:
                await client.wait(job_id, timeout=10)
        assert (failed.value.status.error_code, failed.value.status.error_detail) == (
            "fake.failed",
            "The job failed.",
        )


async def test_injected_faults_reach_a_declared_api_and_polling_rides_them_out(
    spec_file: Path,
) -> None:
    async with FakeProvider(seed=1, durations=0.2, specs=[spec_file]) as fake:
        job_id = fake.create_job("myapi")
        fake.faults.fail_next(2, status=503)
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            assert (await client.wait(job_id, timeout=10)).state is JobState.SUCCEEDED
        assert fake.faults.pending == 0


async def test_a_state_outside_the_spec_is_a_bad_response(spec_file: Path) -> None:
    async with FakeProvider(seed=1, durations=0.05, specs=[spec_file]) as fake:
        job_id = fake.create_job("myapi", terminal_fields={"status": "paused"})
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            with pytest.raises(BadResponseError, match="unknown job status 'paused'"):
                await client.wait(job_id, timeout=10)


async def test_a_json_submit_and_a_cancel_go_through_the_client(spec_file: Path) -> None:
    async with FakeProvider(seed=1, durations=5.0, specs=[spec_file]) as fake:
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            accepted = await client.submit(input_url="https://files.example/a.jpg")
            await client.cancel(accepted.id)
            with pytest.raises(JobCanceled):
                await client.wait(accepted.id, timeout=10)
        assert fake.job("myapi", accepted.id).canceled


async def test_the_microsoft_preset_against_a_fake_of_its_convention() -> None:
    spec = microsoft_operation("msops", submit_path="/jobs", cancel_path="/operations/{id}")
    async with FakeProvider(seed=1, durations=0.3, specs=[spec], declared_retry_after=0.05) as fake:
        async with Client(fake.declared_provider("msops"), policy=FAST) as client:
            accepted = await client.submit()  # 202, Operation-Location, Retry-After
            done = await client.wait(accepted.id, timeout=10)
            slow = fake.create_job("msops", duration=5.0)
            await client.cancel(slow)  # DELETE on the operation
            with pytest.raises(JobCanceled):
                await client.wait(slow, timeout=10)
        assert done.state is JobState.SUCCEEDED
        assert fake.job("msops", accepted.id).terminal_seen_at is not None


async def test_the_google_preset_against_a_fake_of_its_convention() -> None:
    spec = google_operation("gops", submit_path="/v1/photos:optimize")
    async with FakeProvider(seed=1, durations=0.3, specs=[spec]) as fake:
        async with Client(fake.declared_provider("gops"), policy=FAST) as client:
            accepted = await client.submit()  # answers with the Operation
            done = await client.wait(accepted.id, timeout=10)
            failing = fake.create_job("gops", fail=True)
            with pytest.raises(JobFailed) as failed:
                await client.wait(failing, timeout=10)
            slow = fake.create_job("gops", duration=5.0)
            await client.cancel(slow)  # POST .../operations/ID:cancel
            with pytest.raises(JobCanceled):
                await client.wait(slow, timeout=10)
        assert done.state is JobState.SUCCEEDED
        assert failed.value.status.error_code == "13"


@pytest.mark.parametrize("signed", [True, False], ids=["signed-hooks", "callback-tokens"])
async def test_a_declared_spec_is_awaited_end_to_end_by_webhook(
    spec_file: Path, signed: bool
) -> None:
    spec = load_spec(spec_file)
    if not signed:
        spec = attrs.evolve(spec, signs_webhooks=False)
    registry = Registry()
    bindings = CallbackBindings()
    async with FakeProvider(seed=1, durations=0.3, specs=[spec], webhook_secret=SECRET) as fake:
        provider = fake.declared_provider("myapi")
        app = receiver.create_app(
            registry,
            [provider],
            verifier=StandardWebhookVerifier([SECRET]),
            callback_tokens=CallbackTokens(SECRET),
            bindings=bindings,
        )
        async with (
            receiver.serve(app) as url,
            Client(
                provider,
                registry=registry,
                policy=PollPolicy(safety_net_delay=30.0),
                callback_url=url,
                webhook_secret=SECRET,
                callback_bindings=bindings,
            ) as client,
        ):
            accepted = await client.submit()
            result = await client.result(accepted.id, timeout=20)
        await registry.aclose()
        deliveries = fake.webhook_deliveries
    assert (result.source, result.succeeded) == ("webhook", True)
    assert [d.result for d in deliveries] == [200]
    assert ("/hooks/myapi" if signed else "/callbacks/") in deliveries[0].url


def test_a_spec_the_fake_cannot_play_is_refused_when_the_fake_is_made() -> None:
    computed = ApiSpec(
        name="computed",
        base_url="https://api.example.com",
        status=Status(path="/ops/{id}", state="done && 'ok' || 'busy'"),
        states=States(running="busy", succeeded="ok", failed="bad"),
    )
    with pytest.raises(ConfigurationError, match=r"cannot play computed: a succeeded body"):
        FakeProvider(specs=[computed])


def test_two_specs_of_one_name_are_refused(spec_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="two specs have one name"):
        FakeProvider(specs=[spec_file, spec_file])


def test_the_pytest_fixture_takes_a_spec_file_next_to_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", myapi=SPEC)
    pytester.makepyfile(
        test_users_api="""
import pytest

from fastwait import Client


@pytest.mark.asyncio
@pytest.mark.fastwait_fake(specs=["myapi.toml"])
async def test_my_api(fastwait_fake, fastwait_poll_policy):
    job_id = fastwait_fake.create_job("myapi")
    api = fastwait_fake.declared_provider("myapi")
    async with Client(api, policy=fastwait_poll_policy) as client:
        assert (await client.wait(job_id, timeout=10)).id == job_id
"""
    )
    result = pytester.runpytest_subprocess(
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function"),
    )
    result.assert_outcomes(passed=1)


async def test_the_fake_writes_the_jobs_metrics_and_uuid7_ids(spec_file: Path) -> None:
    spec = load_spec(spec_file)
    spec = attrs.evolve(spec, status=attrs.evolve(spec.status, metrics={"input_bytes": "size"}))
    async with FakeProvider(seed=1, durations=0.2, specs=[spec]) as fake:
        job_id = fake.create_job("myapi")
        async with Client(fake.declared_provider("myapi"), policy=FAST) as client:
            status = await client.status(job_id)
        assert status.metrics == {"input_bytes": fake.job("myapi", job_id).input_bytes}
        assert uuid.UUID(job_id).version == 7


@pytest.mark.parametrize("scheme", ["basic", "header"])
async def test_a_multipart_submit_with_each_auth_scheme(scheme: str, tmp_path: Path) -> None:
    spec = ApiSpec(
        name="uploads",
        status=Status(path="/jobs/{id}", output_url="links.result"),
        states=States(queued="new", running="busy", succeeded="ready", failed="broken"),
        auth=Auth(env="UPLOADS_KEY", scheme=scheme, header="Authorization"),  # type: ignore[arg-type]
        submit=Submit(path="/jobs", file_field="media", fields={"preset": "web"}),
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"pretend jpeg bytes")
    async with FakeProvider(seed=1, durations=0.2, specs=[spec]) as fake:
        async with Client(fake.declared_provider("uploads"), policy=FAST) as client:
            accepted = await client.submit(photo)
            assert (await client.wait(accepted.id, timeout=10)).download_url
        job = fake.job("uploads", accepted.id)
        assert job.file_name == "photo.jpg"
        wrong = DeclaredProvider(spec, api_key="wrong-key", base_url=fake.base_url("uploads"))
        async with Client(wrong, policy=FAST) as client:
            with pytest.raises(AuthenticationError):
                await client.status(accepted.id)
