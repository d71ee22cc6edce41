"""The webhook receiver over real HTTP: what it accepts, what it refuses, and with which status.

Bodies are the seed documents' status payloads; signatures come from fastwait's signer and,
once, from the Standard Webhooks reference library. Every request goes over loopback to an
aiohttp test server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
import seed_payloads as seeds
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from standardwebhooks.webhooks import Webhook

from fastwait import (
    CallbackTokens,
    JobState,
    JobStatus,
    MemoryResultStore,
    Registry,
    Resolution,
    StandardWebhookSigner,
    StandardWebhookVerifier,
)
from fastwait.exceptions import ConfigurationError
from fastwait.providers import (
    CompressorApp,
    MediaJobs,
    Provider,
    ToolsFastCompress,
    ToolsFastConvert,
)
from fastwait.receiver import CallbackBindings, create_app, get_receiver, setup
from fastwait.webhooks import generate_signing_key

SECRET = "whsec_" + base64.b64encode(b"receiver-tests-hmac-secret-0123").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-hmac-secret-0123456789").decode()
TOKENS = CallbackTokens("receiver-tests-callback-secret")
MEDIA_URL = "http://media.test"

COMPRESS_KEY = ("compress", seeds.TF_JOB_ID)
COMPRESS_RUNNING = {
    **seeds.TF_COMPRESS_STATUS,
    "status": "Running",
    "progress": {"percent": 40, "phase": None},
    "output": None,
}
MEDIA_JOB_ID = seeds.MEDIA_DONE["jobId"]

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


def all_providers() -> list[Provider]:
    return [
        ToolsFastCompress("test-api-key"),
        ToolsFastConvert("test-api-key"),
        CompressorApp("test-api-key"),
        MediaJobs(MEDIA_URL),
    ]


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def signed(
    body: bytes,
    msg_id: str = "msg_1",
    *,
    signer: StandardWebhookSigner | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    headers = (signer or StandardWebhookSigner(SECRET)).headers(msg_id, body, timestamp)
    return {**headers, "Content-Type": "application/json"}


def statuses_of(registry: Registry) -> list[JobStatus]:
    """Every status the registry is told from now on, in order."""
    seen: list[JobStatus] = []
    registry.subscribe(seen.append)
    return seen


async def until_waiting(registry: Registry, *keys: tuple[str, str]) -> None:
    """Let just-created waiter tasks run to their first await, so each key is awaited."""
    await asyncio.sleep(0)
    assert all(registry.waiters(key) == 1 for key in keys)


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    async with Registry() as registry:
        yield registry


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, registry: Registry) -> MakeClient:
    """A test client of ``create_app``; options override the signed-and-tokens defaults."""

    async def make(
        *,
        providers: Iterable[Provider] | None = None,
        registry_: Registry | None = None,
        **options: Any,
    ) -> Client:
        options.setdefault("verifier", StandardWebhookVerifier([SECRET]))
        options.setdefault("callback_tokens", TOKENS)
        app = create_app(
            registry_ or registry,
            all_providers() if providers is None else providers,
            **options,
        )
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


async def post_signed(
    client: Client, payload: Any, provider: str = "compress", msg_id: str = "msg_1"
) -> tuple[int, Any]:
    body = encode(payload)
    async with client.post(f"/hooks/{provider}", data=body, headers=signed(body, msg_id)) as r:
        return r.status, await r.json()


# --- accepted deliveries ------------------------------------------------------------------


async def test_a_signed_terminal_status_resolves_the_waiter(
    client: Client, registry: Registry
) -> None:
    waiter = asyncio.create_task(registry.wait_resolution(COMPRESS_KEY, timeout=5))
    await until_waiting(registry, COMPRESS_KEY)
    assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (200, {"status": "accepted"})
    resolution = await waiter
    assert resolution.status.state is JobState.SUCCEEDED
    assert resolution.source == "webhook"


async def test_a_webhook_status_keeps_no_raw_payload_by_default(
    client: Client, registry: Registry
) -> None:
    await post_signed(client, seeds.TF_COMPRESS_STATUS)
    status = await registry.wait(COMPRESS_KEY, timeout=5)
    assert status.raw == {}
    assert status.metrics["output_bytes"] == seeds.TF_COMPRESS_STATUS["metrics"]["outputBytes"]


async def test_keep_raw_keeps_each_webhook_body_as_the_raw_payload(
    make_client: MakeClient, registry: Registry
) -> None:
    client = await make_client(keep_raw=True)
    await post_signed(client, seeds.TF_COMPRESS_STATUS)
    status = await registry.wait(COMPRESS_KEY, timeout=5)
    assert status.raw == seeds.TF_COMPRESS_STATUS


async def test_a_webhook_signed_by_the_reference_library_is_accepted(
    client: Client, registry: Registry
) -> None:
    body = encode(seeds.COMPRESSORAPP_COMPLETED).decode()
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_reference",
        "webhook-timestamp": str(math.floor(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign("msg_reference", now, body),
        "Content-Type": "application/json",
    }
    async with client.post("/hooks/compressorapp", data=body, headers=headers) as response:
        assert response.status == 200
    job_id = seeds.COMPRESSORAPP_COMPLETED["id"]
    status = await registry.wait(("compressorapp", job_id), timeout=1)
    assert status.state is JobState.SUCCEEDED


async def test_an_ed25519_v1a_signature_is_accepted(
    make_client: MakeClient, registry: Registry
) -> None:
    signing_key, public_key = generate_signing_key()
    client = await make_client(verifier=StandardWebhookVerifier(public_keys=[public_key]))
    body = encode(seeds.TF_CONVERT_STATUS)
    headers = signed(body, signer=StandardWebhookSigner(signing_key))
    async with client.post("/hooks/convert", data=body, headers=headers) as response:
        assert response.status == 200
    status = await registry.wait(("convert", seeds.TF_JOB_ID), timeout=1)
    assert status.state is JobState.SUCCEEDED


async def test_a_progress_status_reaches_subscribers_and_resolves_nothing(
    client: Client, registry: Registry
) -> None:
    seen = statuses_of(registry)
    waiter = asyncio.create_task(registry.wait(COMPRESS_KEY, timeout=5))
    await until_waiting(registry, COMPRESS_KEY)
    assert await post_signed(client, COMPRESS_RUNNING) == (200, {"status": "accepted"})
    assert [(s.state, s.progress_percent) for s in seen] == [(JobState.RUNNING, 40.0)]
    assert not waiter.done()
    assert registry.timed_out(COMPRESS_KEY, 5.0).last_status == seen[0]
    assert await registry.resolution(COMPRESS_KEY) is None
    waiter.cancel()


async def test_a_status_for_a_job_nobody_awaits_is_kept_for_a_late_waiter(
    client: Client, registry: Registry
) -> None:
    assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (200, {"status": "accepted"})
    status = await registry.wait(COMPRESS_KEY, timeout=0.1)
    assert status.state is JobState.SUCCEEDED


async def test_a_burst_of_200_webhooks_resolves_200_waiters(
    client: Client, registry: Registry
) -> None:
    job_ids = [f"019c56457340753ba9441d7b4e6{i:05x}" for i in range(200)]  # GUIDv7s
    waiters = [
        asyncio.create_task(registry.wait(("compress", job_id), timeout=10)) for job_id in job_ids
    ]
    await until_waiting(registry, *(("compress", j) for j in job_ids))
    answers = await asyncio.gather(
        *(
            post_signed(client, {**seeds.TF_COMPRESS_STATUS, "id": job_id}, msg_id=f"msg_{job_id}")
            for job_id in job_ids
        )
    )
    assert {answer for answer, _ in answers} == {200}
    results = await asyncio.gather(*waiters)
    assert sorted(s.id for s in results) == job_ids
    assert {s.state for s in results} == {JobState.SUCCEEDED}


# --- duplicates ---------------------------------------------------------------------------


async def test_a_duplicate_webhook_id_is_acknowledged_and_applied_once(
    client: Client, registry: Registry
) -> None:
    seen = statuses_of(registry)
    assert await post_signed(client, COMPRESS_RUNNING) == (200, {"status": "accepted"})
    assert await post_signed(client, COMPRESS_RUNNING) == (200, {"status": "duplicate"})
    assert len(seen) == 1


async def test_a_delivery_replayed_to_another_providers_route_is_a_duplicate(
    client: Client, registry: Registry
) -> None:
    """The signature covers the webhook-id and body, not the route: a compress delivery
    replayed to /hooks/convert must not be applied as a convert status."""
    seen = statuses_of(registry)
    body = encode(seeds.TF_COMPRESS_STATUS)
    for route, answer in (("compress", "accepted"), ("convert", "duplicate")):
        headers = signed(body, "msg_replayed")
        async with client.post(f"/hooks/{route}", data=body, headers=headers) as response:
            assert (response.status, await response.json()) == (200, {"status": answer})
    assert [s.provider for s in seen] == ["compress"]
    assert await registry.resolution(("convert", seeds.TF_JOB_ID)) is None


@pytest.mark.parametrize(
    ("route", "payload"),
    [
        ("compress", {**seeds.TF_COMPRESS_STATUS, "id": seeds.COMPRESSORAPP_COMPLETED["id"]}),
        ("convert", {**seeds.TF_CONVERT_STATUS, "id": seeds.COMPRESSORAPP_COMPLETED["id"]}),
    ],
)
async def test_a_status_whose_job_id_cannot_be_the_routes_api_is_refused(
    client: Client, registry: Registry, route: str, payload: dict[str, Any]
) -> None:
    """tools.fast job ids are GUIDv7: a status naming a compressor.app job (a UUIDv4) on a
    tools.fast route is refused, and its retry under another webhook-id too."""
    seen = statuses_of(registry)
    for msg_id in ("msg_wrong_api", "msg_wrong_api_retry"):
        status, answer = await post_signed(client, payload, route, msg_id)
        assert (status, answer) == (422, {"error": "job_of_another_api"})
    assert seen == []


async def test_the_oldest_webhook_ids_are_forgotten_beyond_the_dedupe_capacity(
    make_client: MakeClient, registry: Registry
) -> None:
    client = await make_client(dedupe_capacity=2)
    for msg_id in ("msg_a", "msg_b", "msg_c"):
        await post_signed(client, COMPRESS_RUNNING, msg_id=msg_id)
    assert await post_signed(client, COMPRESS_RUNNING, msg_id="msg_c") == (
        200,
        {"status": "duplicate"},
    )
    assert await post_signed(client, COMPRESS_RUNNING, msg_id="msg_a") == (
        200,
        {"status": "accepted"},
    )


class FailingOnceStore(MemoryResultStore):
    """A store whose first write fails, as a lost database connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    async def put_first(self, key: tuple[str, str], resolution: Resolution) -> Resolution:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionResetError("store unavailable")
        return await super().put_first(key, resolution)


async def test_a_delivery_that_failed_to_publish_is_503_and_its_retry_is_applied(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with Registry(FailingOnceStore()) as registry:
        client = await make_client(registry_=registry)
        assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (
            503,
            {"error": "unavailable"},
        )
        assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (
            200,
            {"status": "accepted"},
        )
        assert (await registry.wait(COMPRESS_KEY, timeout=0.1)).state is JobState.SUCCEEDED
    assert "publishing a compress status failed" in caplog.text


class GatedStore(MemoryResultStore):
    """A store that holds every write until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()

    async def put_first(self, key: tuple[str, str], resolution: Resolution) -> Resolution:
        self.writing.set()
        await self.gate.wait()
        return await super().put_first(key, resolution)


async def test_a_copy_arriving_while_its_delivery_is_applied_is_409(
    make_client: MakeClient,
) -> None:
    store = GatedStore()
    async with Registry(store) as registry:
        client = await make_client(registry_=registry)
        first = asyncio.create_task(post_signed(client, seeds.TF_COMPRESS_STATUS))
        await store.writing.wait()
        assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (
            409,
            {"error": "delivery_in_progress"},
        )
        store.gate.set()
        assert await first == (200, {"status": "accepted"})
        assert await post_signed(client, seeds.TF_COMPRESS_STATUS) == (
            200,
            {"status": "duplicate"},
        )


# --- refused: authenticity ----------------------------------------------------------------


def wrong_secret(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, signer=StandardWebhookSigner(OTHER_SECRET))


def tampered_body(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"Succeeded", b"Failed"), signed(body)


def stale_timestamp(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, timestamp=int(time.time()) - 3600)


def without(header: str) -> Callable[[bytes], tuple[bytes, dict[str, str]]]:
    def drop(body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, {k: v for k, v in signed(body).items() if k != header}

    return drop


@pytest.mark.parametrize(
    "forge",
    [
        wrong_secret,
        tampered_body,
        stale_timestamp,
        without("webhook-id"),
        without("webhook-timestamp"),
        without("webhook-signature"),
    ],
    ids=[
        "wrong-secret",
        "tampered-body",
        "stale-timestamp",
        "missing-webhook-id",
        "missing-webhook-timestamp",
        "missing-webhook-signature",
    ],
)
async def test_an_unverifiable_webhook_is_401_and_applies_nothing(
    client: Client,
    registry: Registry,
    forge: Callable[[bytes], tuple[bytes, dict[str, str]]],
) -> None:
    seen = statuses_of(registry)
    body, headers = forge(encode(seeds.TF_COMPRESS_STATUS))
    async with client.post("/hooks/compress", data=body, headers=headers) as response:
        assert response.status == 401
        assert await response.json() == {"error": "invalid_signature"}
    assert seen == []


# --- refused: routing, media type, size ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "providers"),
    [
        ("/hooks/nope", None),
        ("/hooks/media", [ToolsFastCompress("test-api-key")]),
    ],
    ids=["no-such-provider", "provider-not-configured"],
)
async def test_an_unknown_provider_route_is_404(
    make_client: MakeClient, path: str, providers: list[Provider] | None
) -> None:
    client = await make_client(providers=providers)
    body = encode(seeds.MEDIA_DONE)
    async with client.post(path, data=body, headers=signed(body)) as response:
        assert response.status == 404
        assert await response.json() == {"error": "unknown_provider"}


async def test_without_a_verifier_the_signed_routes_are_404(make_client: MakeClient) -> None:
    client = await make_client(verifier=None)
    body = encode(seeds.TF_COMPRESS_STATUS)
    async with client.post("/hooks/compress", data=body, headers=signed(body)) as response:
        assert response.status == 404


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_a_body_not_declared_as_utf8_json_is_415(
    client: Client, content_type: str | None
) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    headers = signed(body)
    del headers["Content-Type"]
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with client.post("/hooks/compress", data=body, headers=headers) as response:
        assert response.status == 415
        assert await response.json() == {"error": "unsupported_media_type"}


@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8", "Application/JSON"])
async def test_json_content_types_with_parameters_or_other_case_are_accepted(
    client: Client, content_type: str
) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    headers = {**signed(body), "Content-Type": content_type}
    async with client.post("/hooks/compress", data=body, headers=headers) as response:
        assert response.status == 200


def padded_status(size: int) -> bytes:
    """A valid status body of exactly ``size`` bytes (whitespace is valid JSON)."""
    body = encode(seeds.TF_COMPRESS_STATUS)
    return body + b" " * (size - len(body))


async def test_a_body_declared_larger_than_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1024)
    body = padded_status(1025)
    async with client.post("/hooks/compress", data=body, headers=signed(body)) as response:
        assert response.status == 413
        assert await response.json() == {"error": "body_too_large"}


async def test_a_body_of_exactly_the_limit_is_accepted(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1024)
    body = padded_status(1024)
    async with client.post("/hooks/compress", data=body, headers=signed(body)) as response:
        assert response.status == 200


async def test_a_chunked_body_growing_past_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1024)
    body = padded_status(4096)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    async with client.post("/hooks/compress", data=chunks(), headers=signed(body)) as response:
        assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert response.status == 413


async def test_a_chunked_body_within_the_limit_is_read_whole(
    make_client: MakeClient, registry: Registry
) -> None:
    client = await make_client(max_body_bytes=1024)
    seen = statuses_of(registry)
    body = padded_status(1000)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    async with client.post("/hooks/compress", data=chunks(), headers=signed(body)) as response:
        assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert response.status == 200
    assert [status.id for status in seen] == [seeds.TF_COMPRESS_STATUS["id"]]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)content-length: (\d+)", head)
    return status, await reader.readexactly(int(length[1])) if length else b""


async def test_a_content_length_lie_gets_only_the_declared_bytes_read(
    make_client: MakeClient, registry: Registry
) -> None:
    client = await make_client(max_body_bytes=1024)
    seen = statuses_of(registry)
    body = padded_status(8192)
    declared = 100
    # Signed over the declared prefix: the signature passes only if exactly those bytes are
    # what the handler read. The rest of the body follows, to be parsed as a next request.
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(body[:declared]).items())
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        f"POST /hooks/compress HTTP/1.1\r\nHost: test\r\nContent-Length: {declared}\r\n"
        f"{head}\r\n".encode()
        + body[:declared]
    )
    assert await asyncio.wait_for(read_response(reader), timeout=5) == (
        400,
        b'{"error": "invalid_json"}',
    )
    writer.write(body[declared:])
    status, _ = await asyncio.wait_for(read_response(reader), timeout=5)
    assert status == 400
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # and the connection closed
    writer.close()
    await writer.wait_closed()
    assert seen == []


# --- refused: bodies that are not statuses ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"id": "019c", "status": ', "invalid_json"),
        (b"", "invalid_json"),
        (b'{"id": NaN}', "invalid_json"),
        (b"[" * 100_000, "invalid_json"),
        (b'{"id": "\xff\xfe", "status": "Succeeded"}', "invalid_utf8"),
        (encode({**seeds.TF_COMPRESS_STATUS, "status": "Exploded"}), "invalid_status"),
        (encode([seeds.TF_COMPRESS_STATUS]), "invalid_status"),
        (encode(seeds.MEDIA_DONE), "invalid_status"),
    ],
    ids=[
        "truncated-json",
        "empty",
        "nan",
        "nested-too-deep",
        "not-utf8",
        "unknown-status-string",
        "a-list",
        "another-providers-status",
    ],
)
async def test_a_signed_body_that_is_not_a_status_is_400(
    client: Client, registry: Registry, body: bytes, error: str
) -> None:
    seen = statuses_of(registry)
    async with client.post("/hooks/compress", data=body, headers=signed(body)) as response:
        assert response.status == 400
        assert await response.json() == {"error": error}
    assert seen == []


async def test_a_status_the_provider_fails_to_translate_is_400_not_500(client: Client) -> None:
    # compressor.app's parse_status raises ValueError (not BadResponseError) for this URL.
    payload = {**seeds.COMPRESSORAPP_COMPLETED, "url": "http://[::1"}
    assert await post_signed(client, payload, "compressorapp") == (
        400,
        {"error": "invalid_status"},
    )


async def test_a_body_refused_as_not_a_status_leaves_its_webhook_id_unused(
    client: Client,
) -> None:
    bad = encode({**seeds.TF_COMPRESS_STATUS, "status": "Exploded"})
    async with client.post("/hooks/compress", data=bad, headers=signed(bad, "msg_x")) as r:
        assert r.status == 400
    assert await post_signed(client, seeds.TF_COMPRESS_STATUS, msg_id="msg_x") == (
        200,
        {"status": "accepted"},
    )


# --- callbacks (per-job tokens, unsigned) -------------------------------------------------


async def post_callback(client: Client, token: str, payload: Any) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    async with client.post(f"/callbacks/{token}", data=encode(payload), headers=headers) as r:
        return r.status, await r.json()


async def test_a_callback_with_its_jobs_token_resolves_the_waiter(
    client: Client, registry: Registry
) -> None:
    key = ("media", MEDIA_JOB_ID)
    waiter = asyncio.create_task(registry.wait_resolution(key, timeout=5))
    await until_waiting(registry, key)
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    assert await post_callback(client, token, seeds.MEDIA_DONE) == (200, {"status": "accepted"})
    resolution = await waiter
    assert resolution.status.state is JobState.SUCCEEDED
    assert resolution.source == "webhook"


def tampered(token: str) -> str:
    payload, _, tag = token.partition(".")
    return f"{payload}.{'A' if tag[0] != 'A' else 'B'}{tag[1:]}"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        CallbackTokens("some-other-callback-secret").for_job("media", MEDIA_JOB_ID),
        tampered(TOKENS.for_job("media", MEDIA_JOB_ID)),
        "A" * 600 + ".AAAA",
    ],
    ids=["garbage", "other-secret", "tampered-tag", "too-long"],
)
async def test_a_bad_callback_token_is_401(client: Client, registry: Registry, token: str) -> None:
    seen = statuses_of(registry)
    assert await post_callback(client, token, seeds.MEDIA_DONE) == (
        401,
        {"error": "invalid_token"},
    )
    assert seen == []


async def test_a_bad_callback_token_is_refused_before_the_body_is_read(
    make_client: MakeClient,
) -> None:
    client = await make_client(max_body_bytes=1024)
    body = padded_status(4096)
    headers = {"Content-Type": "application/json"}
    async with client.post("/callbacks/not-a-token", data=body, headers=headers) as response:
        assert response.status == 401


async def test_a_genuine_token_for_a_provider_not_configured_is_404(
    make_client: MakeClient,
) -> None:
    client = await make_client(providers=[ToolsFastCompress("test-api-key")])
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    assert await post_callback(client, token, seeds.MEDIA_DONE) == (
        404,
        {"error": "unknown_provider"},
    )


async def test_without_callback_tokens_the_callback_routes_are_404(
    make_client: MakeClient,
) -> None:
    client = await make_client(callback_tokens=None)
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    headers = {"Content-Type": "application/json"}
    async with client.post(f"/callbacks/{token}", data=b"{}", headers=headers) as response:
        assert response.status == 404


async def test_a_token_for_job_a_refuses_a_status_of_job_b(
    client: Client, registry: Registry
) -> None:
    seen = statuses_of(registry)
    token = TOKENS.for_job("media", "job-a")
    payload = {**seeds.MEDIA_DONE, "jobId": "job-b"}
    assert await post_callback(client, token, payload) == (403, {"error": "job_mismatch"})
    assert seen == []


async def test_a_nonce_token_binds_to_the_job_of_its_first_callback(
    make_client: MakeClient,
) -> None:
    bindings = CallbackBindings()
    client = await make_client(bindings=bindings)
    token, nonce = TOKENS.for_submission("media")
    running = {**seeds.MEDIA_DONE, "status": "processing"}
    assert await post_callback(client, token, running) == (200, {"status": "accepted"})
    assert bindings.job_id("media", nonce) == MEDIA_JOB_ID
    assert await post_callback(client, token, seeds.MEDIA_DONE) == (200, {"status": "accepted"})
    other = {**seeds.MEDIA_DONE, "jobId": "another-job"}
    assert await post_callback(client, token, other) == (403, {"error": "job_mismatch"})


async def test_a_nonce_the_client_bound_refuses_a_status_of_another_job(
    make_client: MakeClient,
) -> None:
    bindings = CallbackBindings()
    client = await make_client(bindings=bindings)
    token, nonce = TOKENS.for_submission("media")
    assert bindings.bind("media", nonce, "the-submitted-job")
    assert await post_callback(client, token, seeds.MEDIA_DONE) == (
        403,
        {"error": "job_mismatch"},
    )


async def test_a_callback_not_declared_as_json_is_415(client: Client) -> None:
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    async with client.post(f"/callbacks/{token}", data=encode(seeds.MEDIA_DONE)) as response:
        assert response.status == 415


# --- the application ----------------------------------------------------------------------


async def test_healthz_answers_ok(client: Client) -> None:
    async with client.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_the_app_mounted_as_a_subapp_serves_under_its_prefix(
    aiohttp_client: AiohttpClient, registry: Registry
) -> None:
    parent = web.Application()
    verifier = StandardWebhookVerifier([SECRET])
    parent.add_subapp("/fastwait", create_app(registry, all_providers(), verifier=verifier))
    client = await aiohttp_client(parent)
    body = encode(seeds.TF_COMPRESS_STATUS)
    async with client.post("/fastwait/hooks/compress", data=body, headers=signed(body)) as r:
        assert r.status == 200
    async with client.get("/fastwait/healthz") as r:
        assert r.status == 200
    async with client.post("/hooks/compress", data=body, headers=signed(body)) as r:
        assert r.status == 404
    assert (await registry.wait(COMPRESS_KEY, timeout=0.1)).state is JobState.SUCCEEDED


async def test_setup_adds_the_routes_to_an_existing_app_under_a_prefix(
    aiohttp_client: AiohttpClient, registry: Registry
) -> None:
    async def own_route(request: web.Request) -> web.Response:
        return web.Response(text="mine")

    app = web.Application()
    app.router.add_get("/", own_route)
    setup(app, registry, all_providers(), callback_tokens=TOKENS, prefix="/fastwait")
    client = await aiohttp_client(app)
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    async with client.post(
        f"/fastwait/callbacks/{token}",
        data=encode(seeds.MEDIA_DONE),
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 200
    async with client.get("/") as response:
        assert await response.text() == "mine"
    assert (await registry.wait(("media", MEDIA_JOB_ID), timeout=0.1)).is_terminal


async def test_get_receiver_returns_what_setup_configured(registry: Registry) -> None:
    bindings = CallbackBindings()
    app = web.Application()
    receiver = setup(app, registry, all_providers(), callback_tokens=TOKENS, bindings=bindings)
    assert get_receiver(app) is receiver
    assert receiver.bindings is bindings
    assert receiver.registry is registry
    assert sorted(receiver.providers) == ["compress", "compressorapp", "convert", "media"]


def test_get_receiver_before_setup_says_to_call_setup_first() -> None:
    with pytest.raises(RuntimeError, match=r"call receiver\.setup\(app, \.\.\.\) first"):
        get_receiver(web.Application())


async def test_setup_twice_on_one_app_is_refused(registry: Registry) -> None:
    app = web.Application()
    setup(app, registry, all_providers(), callback_tokens=TOKENS)
    with pytest.raises(RuntimeError, match="already set up"):
        setup(app, registry, all_providers(), callback_tokens=TOKENS, prefix="/again")


@pytest.mark.parametrize(
    ("providers", "options"),
    [
        ([], {"callback_tokens": TOKENS}),
        ([MediaJobs(MEDIA_URL), MediaJobs("http://other.test")], {"callback_tokens": TOKENS}),
        (all_providers(), {}),
        (all_providers(), {"callback_tokens": TOKENS, "prefix": "fastwait"}),
        (all_providers(), {"callback_tokens": TOKENS, "prefix": "/fastwait/"}),
        (all_providers(), {"callback_tokens": TOKENS, "max_body_bytes": 0}),
        (all_providers(), {"callback_tokens": TOKENS, "dedupe_capacity": 0}),
    ],
    ids=[
        "no-provider",
        "provider-twice",
        "neither-verifier-nor-tokens",
        "relative-prefix",
        "prefix-trailing-slash",
        "no-body-allowed",
        "no-dedupe-memory",
    ],
)
async def test_an_unusable_configuration_is_refused(
    registry: Registry, providers: list[Provider], options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        setup(web.Application(), registry, providers, **options)


def test_callback_bindings_forget_the_oldest_nonce_beyond_capacity() -> None:
    bindings = CallbackBindings(capacity=2)
    for nonce in ("n1", "n2", "n3"):
        assert bindings.bind("media", nonce, f"job-{nonce}")
    assert bindings.job_id("media", "n1") is None
    assert bindings.job_id("media", "n3") == "job-n3"
    assert len(bindings) == 2
