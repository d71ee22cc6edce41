"""HTTP plumbing shared by the fake's APIs: JSON bodies, multipart forms, fault delivery.

Everything an API module needs that is not knowledge of that API lives here, in particular how
a :class:`~fastwait.testing._faults.Fault` is carried out on a real connection (a dropped
connection, a body cut short), which aiohttp has no public API for.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import BodyPartReader, web
from yarl import URL

from fastwait.testing._jobs import FakeJob
from fastwait.testing._state import FakeState

__all__ = [
    "Form",
    "FormError",
    "answer_job_request",
    "callback_url_is_valid",
    "dumps",
    "format_seconds",
    "json_response",
    "read_form",
]

Respond = Callable[[bool], Awaitable[web.Response]]
"""Builds the real answer; its argument is False when the answer will be cut short."""


def dumps(payload: object) -> bytes:
    """The one JSON encoding of the fake: compact, UTF-8, so webhooks equal status bodies."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def format_seconds(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds as HTTP specifies, fractions kept when a test sets
    them (up to milliseconds) so test suites can run fast."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def callback_url_is_valid(url: str) -> bool:
    """Whether ``url`` can receive webhooks: an absolute http(s) URL with a host."""
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


@attrs.frozen
class Upload:
    """A file part of a multipart form: its client-side name and how many bytes it had."""

    file_name: str
    size: int


@attrs.frozen
class Form:
    """A multipart form: text fields and file parts (the file bytes are counted, not kept)."""

    fields: Mapping[str, str]
    files: Mapping[str, Upload]


class FormError(Exception):
    """The request body is not a readable multipart form."""


async def read_form(request: web.Request) -> Form:
    """Stream the multipart body, keeping text fields and the size of each file part.

    Raises :class:`FormError` for a body that is not multipart or cannot be parsed.
    """
    if not request.content_type.startswith("multipart/"):
        raise FormError(f"expected a multipart/form-data body, got {request.content_type!r}")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                fields[part.name] = await part.text()
                continue
            size = 0
            while chunk := await part.read_chunk():
                size += len(chunk)
            files[part.name] = Upload(part.filename, size)
    except (ValueError, AssertionError, web.RequestPayloadError, web.HTTPException) as exc:
        raise FormError(f"unreadable multipart body: {exc}") from exc
    return Form(fields, files)


async def answer_job_request(
    request: web.Request,
    state: FakeState,
    job: FakeJob | None,
    fault_response: Callable[[int], web.Response],
    respond: Respond,
) -> web.StreamResponse:
    """Answer a request that names a job, unless a fault is due.

    Counts the request on the job (with its time and User-Agent), waits ``faults.delay``, then
    either answers normally or carries out the drawn fault; ``fault_response(status)`` renders
    an injected error status in the API's own error envelope.
    """
    if job is not None:
        job.requests += 1
        job.requested_at.append(state.clock())
        user_agent = request.headers.get("User-Agent", "")
        if user_agent not in job.user_agents:
            job.user_agents.append(user_agent)
    faults = state.faults
    fault = faults.draw(state.fault_rng)
    if faults.delay > 0:
        await asyncio.sleep(faults.delay)
    if fault is None:
        return await respond(True)
    if fault.kind == "status":
        response = fault_response(fault.status)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = format_seconds(fault.retry_after)
        return response
    if fault.kind == "drop":
        return _drop_connection(request)
    return await _send_truncated(request, await respond(False), state.fault_rng)


def _drop_connection(request: web.Request) -> web.Response:
    """Close the connection with no response at all.

    aiohttp writes the returned response only after the handler returns; writing to the closed
    transport raises ``ConnectionResetError``, which aiohttp treats as a client that went away.
    """
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


async def _send_truncated(
    request: web.Request, response: web.Response, rng: random.Random
) -> web.StreamResponse:
    """Send ``response`` with its body cut short, then close the connection.

    Half the time the headers promise the full ``Content-Length``, half the time the body is
    chunked and never terminated: the two ways a real proxy or crash truncates JSON. A response
    without a body cannot be cut, so the connection is dropped instead.
    """
    body = response.body
    if not isinstance(body, bytes) or len(body) < 2:
        return _drop_connection(request)
    headers: dict[str, Any] = {
        k: v for k, v in response.headers.items() if k.lower() != "content-length"
    }
    stream = web.StreamResponse(status=response.status, headers=headers)
    if rng.random() < 0.5:
        stream.enable_chunked_encoding()
    else:
        stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: rng.randrange(1, len(body))])
    if request.transport is not None:
        request.transport.close()
    return stream
