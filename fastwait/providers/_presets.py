"""Specs of two public conventions many job APIs follow, ready to compile.

* The Microsoft REST API guidelines' long-running operation: the submit answers 202 with an
  ``Operation-Location`` header (and ``Retry-After``); the status monitor there reads
  ``{"id", "status": "NotStarted|Running|Succeeded|Failed|Canceled", "percentComplete",
  "resourceLocation", "error": {"code", "message"}}``; errors are ``{"error": {"code",
  "message"}}``.
* Google's AIP-151 ``Operation``: ``{"name": "operations/ID", "done", "error": {"code",
  "message"}, "response", "metadata"}``, read by ``GET /v1/operations/ID`` and canceled by
  ``POST /v1/operations/ID:cancel``. There is no state field: it is computed from ``done``
  and ``error`` (``error.code`` 1 is ``CANCELLED``), so the spec carries example bodies.
"""

from __future__ import annotations

from fastwait.providers._spec import ApiSpec, Auth, Cancel, ErrorBody, States, Status, Submit

__all__ = ["google_operation", "microsoft_operation"]


def microsoft_operation(
    name: str,
    base_url: str | None = None,
    *,
    auth: Auth | None = None,
    status_path: str = "/operations/{id}",
    submit_path: str | None = None,
    cancel_path: str | None = None,
    signs_webhooks: bool = True,
) -> ApiSpec:
    """A Microsoft REST long-running operation API (see the module docstring).

    ``submit_path`` declares a JSON submit whose 202 names the operation in
    ``Operation-Location`` (or, failing that, ``id`` in the body); ``cancel_path`` (with
    ``{id}``) a ``DELETE`` on the operation, where the API offers one.
    """
    return ApiSpec(
        name=name,
        base_url=base_url,
        auth=auth,
        status=Status(
            path=status_path,
            id="id",
            state="status",
            progress="percentComplete",
            output_url="resourceLocation",
            error_code="error.code",
            error_detail="error.message",
        ),
        states=States(
            queued="NotStarted",
            running="Running",
            succeeded="Succeeded",
            failed="Failed",
            canceled="Canceled",
        ),
        submit=None
        if submit_path is None
        else Submit(path=submit_path, body="json", follow=("Operation-Location",), state="status"),
        cancel=None if cancel_path is None else Cancel(path=cancel_path, method="DELETE"),
        errors=ErrorBody(code="error.code", detail="error.message"),
        signs_webhooks=signs_webhooks,
    )


_AIP151_STATE = (
    "done && (error.code == `1` && 'CANCELLED' || error && 'FAILED' || 'SUCCEEDED') || 'RUNNING'"
)


def google_operation(
    name: str,
    base_url: str | None = None,
    *,
    auth: Auth | None = None,
    version: str = "v1",
    collection: str = "operations",
    submit_path: str | None = None,
    progress: str | None = None,
    progress_scale: float = 100.0,
    output_url: str | None = None,
    signs_webhooks: bool = True,
) -> ApiSpec:
    """A Google AIP-151 ``Operation`` API (see the module docstring).

    Operations are ``{version}/{collection}/ID`` and named ``{collection}/ID``; the job id is
    ``ID``. ``metadata`` and ``response`` are the API's own: ``progress`` and ``output_url``
    say where in them (``metadata.progressPercent``, ``response.outputUri``), if anywhere.
    ``submit_path`` declares a JSON submit that answers with the Operation.
    """
    return ApiSpec(
        name=name,
        base_url=base_url,
        auth=auth,
        status=Status(
            path=f"/{version}/{collection}/{{id}}",
            id="name",
            id_format=f"{collection}/{{id}}",
            state=_AIP151_STATE,
            progress=progress,
            progress_scale=progress_scale,
            output_url=output_url,
            error_code="error.code",
            error_detail="error.message",
        ),
        states=States(
            running="RUNNING", succeeded="SUCCEEDED", failed="FAILED", canceled="CANCELLED"
        ),
        submit=None
        if submit_path is None
        else Submit(path=submit_path, body="json", id="name", follow=()),
        cancel=Cancel(path=f"/{version}/{collection}/{{id}}:cancel", method="POST"),
        errors=ErrorBody(code="error.status", detail="error.message"),
        signs_webhooks=signs_webhooks,
        examples={
            "running": {"done": False},
            "succeeded": {"done": True, "response": {}},
            "failed": {"done": True, "error": {"code": 13, "message": "internal error"}},
            "canceled": {"done": True, "error": {"code": 1, "message": "cancelled"}},
        },
    )
