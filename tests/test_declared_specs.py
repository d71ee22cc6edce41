"""A declared spec: checked field by field before any request, compiled once into a provider."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from fastwait import JobState
from fastwait.exceptions import (
    BadResponseError,
    ConfigurationError,
    NotFoundError,
    NotReadyError,
    SpecError,
    UnsupportedOperationError,
)
from fastwait.providers import (
    ApiSpec,
    Auth,
    Cancel,
    DeclaredProvider,
    ErrorBody,
    States,
    Status,
    Submit,
    google_operation,
    load_spec,
    microsoft_operation,
    spec_from_dict,
)

BASE = "https://api.example.com"
TOKEN = "tok_3f9a"


def table() -> dict[str, Any]:
    """The issue's small JSON job API as a decoded TOML table."""
    return {
        "name": "myapi",
        "base_url": BASE,
        "auth": {"env": "MYAPI_TOKEN"},
        "status": {
            "path": "/v1/jobs/{id}",
            "state": "status",
            "progress": "progress",
            "output_url": "result_url",
            "error_code": "error.code",
            "error_detail": "error.message",
        },
        "states": {
            "queued": "queued",
            "running": "running",
            "succeeded": "done",
            "failed": "error",
        },
        "submit": {"path": "/v1/jobs", "body": "json", "callback_field": "callback_url"},
        "cancel": {"path": "/v1/jobs/{id}/cancel"},
        "errors": {"code": "error.code", "detail": "error.message", "not_ready_codes": "busy"},
    }


def provider(data: dict[str, Any] | None = None, api_key: str = TOKEN) -> DeclaredProvider:
    return DeclaredProvider(spec_from_dict(data or table()), api_key=api_key)


def refusal(data: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        DeclaredProvider(spec_from_dict(data, source="myapi.toml"), api_key=TOKEN)
    return caught.value


# --- a spec that is wrong names the field ---------------------------------------------------


def test_an_invalid_jmespath_expression_is_named_with_its_field() -> None:
    data = table()
    data["status"]["state"] = "job..status"
    error = refusal(data)
    assert error.field == "myapi.toml: status.state"
    assert "not a valid JMESPath expression" in str(error)


def test_a_misspelt_key_is_an_error_not_a_missing_field() -> None:
    data = table()
    data["status"]["stat"] = "status"
    assert "unknown key stat" in str(refusal(data))
    assert refusal(data).field == "myapi.toml: status"


def test_a_value_of_the_wrong_type_names_its_field_and_the_type_wanted() -> None:
    data = table()
    data["status"]["progress_scale"] = "100"
    assert str(refusal(data)) == "myapi.toml: status.progress_scale: must be a number"


def test_a_state_value_in_two_states_is_refused() -> None:
    data = table()
    data["states"]["running"] = ["running", "done"]
    assert "'done' is already a running state" in str(refusal(data))


def test_a_status_path_without_the_id_is_refused() -> None:
    data = table()
    data["status"]["path"] = "/v1/jobs"
    assert refusal(data).field == "myapi.toml: status.path"


def test_a_missing_required_table_is_named() -> None:
    data = table()
    del data["states"]
    assert str(refusal(data)) == "myapi.toml: states: is required"


def test_a_built_in_name_is_refused() -> None:
    data = table()
    data["name"] = "compress"
    assert refusal(data).field == "myapi.toml: name"


def test_a_python_spec_is_checked_as_it_is_made() -> None:
    with pytest.raises(SpecError, match=r"^progress: not a valid JMESPath expression"):
        Status(path="/v1/jobs/{id}", progress="a[")


def test_an_example_that_does_not_read_as_its_state_is_refused_at_compile_time() -> None:
    data = table()
    data["examples"] = {"failed": {"status": "done"}}
    with pytest.raises(SpecError, match=r"^examples\.failed: reads as 'done'"):
        provider(data)


def test_a_spec_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = 'myapi\n")
    with pytest.raises(SpecError, match=r"^broken\.toml: is not TOML"):
        load_spec(path)


def test_the_credential_comes_from_the_variable_the_spec_names() -> None:
    spec = spec_from_dict(table())
    with pytest.raises(ConfigurationError, match="MYAPI_TOKEN"):
        DeclaredProvider(spec, environ={})
    request = DeclaredProvider(spec, environ={"MYAPI_TOKEN": TOKEN}).status_request("j1")
    assert request.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(DeclaredProvider(spec, environ={"MYAPI_TOKEN": TOKEN}))


def test_basic_and_header_schemes() -> None:
    data = table()
    data["auth"] = {"env": "K", "scheme": "basic"}
    token = base64.b64encode(b"user:pw").decode()
    basic = provider(data, api_key="user:pw").status_request("j1")
    assert basic.headers == {"Authorization": f"Basic {token}"}
    data["auth"] = {"env": "K", "scheme": "header", "header": "X-Api-Key"}
    assert provider(data).status_request("j1").headers == {"X-Api-Key": TOKEN}


# --- the compiled provider -------------------------------------------------------------------


def test_a_status_is_read_at_the_declared_paths() -> None:
    api = provider()
    assert api.name == "myapi"
    assert api.reports_progress
    assert api.status_request("j1").url == f"{BASE}/v1/jobs/j1"
    status = api.parse_status({"id": "j1", "status": "running", "progress": 40})
    assert (status.id, status.state, status.progress_percent) == ("j1", JobState.RUNNING, 40.0)
    done = api.parse_status({"id": "j1", "status": "done", "result_url": "/files/j1.bin"})
    assert done.download_url == f"{BASE}/files/j1.bin"
    failed = api.parse_status(
        {"id": "j1", "status": "error", "error": {"code": "bad_input", "message": "no"}}
    )
    assert (failed.state, failed.error_code, failed.error_detail) == (
        JobState.FAILED,
        "bad_input",
        "no",
    )


def test_a_state_outside_the_map_is_a_bad_response_not_still_running() -> None:
    with pytest.raises(BadResponseError, match=r"unknown job status 'paused' @ status"):
        provider().parse_status({"id": "j1", "status": "paused"})


def test_a_progress_fraction_is_scaled_to_percent() -> None:
    data = table()
    data["status"]["progress_scale"] = 1
    assert (
        provider(data)
        .parse_status({"id": "j", "status": "running", "progress": 0.25})
        .progress_percent
        == 25.0
    )


def test_an_id_that_could_leave_its_path_segment_is_refused() -> None:
    with pytest.raises(BadResponseError, match=r"not a valid job id @ id"):
        provider().parse_status({"id": "../admin", "status": "done"})
    with pytest.raises(ConfigurationError):
        provider().status_request("a/b")


def test_a_json_submit_carries_options_and_the_callback_url() -> None:
    request = provider().submit_request(
        "photo.jpg", {"input_url": "https://x.example/a.jpg"}, "https://me.example/hooks/myapi"
    )
    assert (request.method, request.url, request.file_field) == ("POST", f"{BASE}/v1/jobs", None)
    assert request.json == {
        "input_url": "https://x.example/a.jpg",
        "callback_url": "https://me.example/hooks/myapi",
    }


def test_a_multipart_submit_uploads_the_file_under_its_field() -> None:
    data = table()
    data["submit"] = {"path": "/v1/jobs", "file_field": "media", "fields": {"preset": "web"}}
    request = provider(data).submit_request("photo.jpg", {})
    assert (request.file_field, dict(request.fields), request.json) == (
        "media",
        {"preset": "web"},
        None,
    )


def test_the_id_is_followed_from_an_operation_location_header() -> None:
    api = provider()
    accepted = api.parse_submit_answer(None, {"operation-location": f"{BASE}/v1/jobs/op-7"})
    assert (accepted.id, accepted.state) == ("op-7", JobState.QUEUED)
    assert api.parse_submit_answer({"id": "j2"}, {}).id == "j2"
    with pytest.raises(BadResponseError, match="Location header is not a status URL"):
        api.parse_submit_answer(None, {"Location": "https://elsewhere.example/v1/jobs/x"})


def test_undeclared_operations_are_unsupported() -> None:
    data = table()
    del data["submit"], data["cancel"]
    api = provider(data)
    with pytest.raises(UnsupportedOperationError):
        api.submit_request("photo.jpg", {})
    with pytest.raises(UnsupportedOperationError):
        api.cancel_request("j1")
    with pytest.raises(UnsupportedOperationError):
        api.delete_request("j1")
    assert provider().cancel_request("j1").url == f"{BASE}/v1/jobs/j1/cancel"


def test_an_error_answer_is_read_from_the_declared_envelope() -> None:
    api = provider()
    body = b'{"error": {"code": "busy", "message": "tok_3f9a is still working"}}'
    error = api.parse_error(409, body, {"Retry-After": "3"})
    assert isinstance(error, NotReadyError)
    assert (error.code, error.detail, error.retry_after) == (
        "busy",
        "[redacted] is still working",
        3.0,
    )
    assert isinstance(api.parse_error(404, b"<html>", {}), NotFoundError)


# --- the presets -----------------------------------------------------------------------------


def test_the_microsoft_preset_reads_a_status_monitor() -> None:
    api = DeclaredProvider(microsoft_operation("msops", BASE, submit_path="/jobs"))
    status = api.parse_status(
        {"id": "op1", "status": "NotStarted", "percentComplete": 0, "createdDateTime": "x"}
    )
    assert status.state is JobState.QUEUED
    failed = api.parse_status(
        {"id": "op1", "status": "Failed", "error": {"code": "Quota", "message": "over"}}
    )
    assert (failed.state, failed.error_code) == (JobState.FAILED, "Quota")
    assert api.parse_status({"id": "op1", "status": "Canceled"}).state is JobState.CANCELED
    accepted = api.parse_submit_answer(
        None, {"Operation-Location": f"{BASE}/operations/op1?api-version=2024-01-01"}
    )
    assert accepted.id == "op1"


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        ({"name": "operations/o1"}, JobState.RUNNING),
        ({"name": "operations/o1", "done": False, "metadata": {}}, JobState.RUNNING),
        ({"name": "operations/o1", "done": True, "response": {"x": 1}}, JobState.SUCCEEDED),
        ({"name": "operations/o1", "done": True, "error": {"code": 13}}, JobState.FAILED),
        ({"name": "operations/o1", "done": True, "error": {"code": 1}}, JobState.CANCELED),
    ],
)
def test_the_google_preset_computes_the_state_of_an_operation(
    operation: dict[str, Any], state: JobState
) -> None:
    api = DeclaredProvider(google_operation("gops", BASE))
    status = api.parse_status(operation)
    assert (status.id, status.state) == ("o1", state)
    assert api.status_request("o1").url == f"{BASE}/v1/operations/o1"
    assert api.cancel_request("o1").url == f"{BASE}/v1/operations/o1:cancel"


def test_a_python_spec_compiles_like_a_toml_one() -> None:
    spec = ApiSpec(
        name="myapi",
        base_url=BASE,
        auth=Auth(env="MYAPI_TOKEN"),
        status=Status(path="/v1/jobs/{id}", progress="progress", output_url="result_url"),
        states=States(queued="queued", running="running", succeeded="done", failed="error"),
        submit=Submit(path="/v1/jobs", body="json"),
        cancel=Cancel(path="/v1/jobs/{id}/cancel"),
        errors=ErrorBody(code="error.code", detail="error.message"),
    )
    api = DeclaredProvider(spec, api_key=TOKEN)
    assert api.parse_status({"id": "j", "status": "queued"}).state is JobState.QUEUED


def test_declared_metrics_are_numbers_kept_in_the_status() -> None:
    data = table()
    data["status"]["metrics"] = {"input_bytes": "input.size", "pages": "output.pages"}
    status = provider(data).parse_status({"id": "j", "status": "done", "input": {"size": 512}})
    assert status.metrics == {"input_bytes": 512}
    with pytest.raises(BadResponseError, match=r"expected a number @ input\.size"):
        provider(data).parse_status({"id": "j", "status": "done", "input": {"size": "big"}})
    data["status"]["metrics"] = {"input_bytes": "input..size"}
    assert refusal(data).field == "myapi.toml: status.metrics.input_bytes"


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("status",), "x", "myapi.toml: status: must be a table"),
        (("auth", "scheme"), "digest", "myapi.toml: auth.scheme: must be one of bearer, basic"),
        (("submit", "fields"), {"a": 1}, "myapi.toml: submit.fields: must map field names to"),
        (("errors", "not_ready_codes"), 5, "myapi.toml: errors.not_ready_codes: must be a"),
        (("signs_webhooks",), "yes", "myapi.toml: signs_webhooks: must be true or false"),
    ],
)
def test_each_kind_of_wrong_value_is_named(
    where: tuple[str, ...], value: object, message: str
) -> None:
    data = table()
    inner = data
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = value
    assert str(refusal(data)).startswith(message)


def test_a_python_spec_with_a_table_of_the_wrong_kind_is_named() -> None:
    with pytest.raises(SpecError, match=r"^status: must be a Status$"):
        ApiSpec(name="myapi", status="/v1/jobs/{id}", states=States(succeeded="ok", failed="x"))  # type: ignore[arg-type]


def test_the_credential_is_never_in_an_error_or_a_repr() -> None:
    api = provider()
    assert api.secrets() == (TOKEN,)
    error = api.parse_error(400, b'{"error": {"code": "x", "message": "bad tok_3f9a"}}', {})
    assert TOKEN not in str(error)
    assert TOKEN not in repr(api)
