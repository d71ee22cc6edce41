"""The WSGI receiver under a real WSGI server: the aiohttp app's routes, checks and answers.

Each test serves ``create_wsgi_app`` with wsgiref's server on a loopback port and talks HTTP
to it; deliveries are signed with fastwait's signer (once with the Standard Webhooks reference
library) and published on the SyncClient's loop thread, where its waiters wake. The hostile
requests of the aiohttp/ASGI parity table (``test_receiver_parity.py``) get the aiohttp app's
answers here too, except the rows whose outcome a WSGI server decides (chunked bodies, a body's
deadline).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import seed_payloads as seeds
import test_receiver_parity as parity
from redis_support import RedisHarness, redis_harness
from standardwebhooks.webhooks import Webhook
from wsgi_support import serving

from fastwait import (
    CallbackTokens,
    JobState,
    MemoryResultStore,
    PollPolicy,
    Registry,
    Resolution,
    StandardWebhookSigner,
    StandardWebhookVerifier,
    SyncClient,
)
from fastwait.events import Event, WebhookRefused
from fastwait.exceptions import ConfigurationError
from fastwait.providers import MediaJobs, Provider, ToolsFastCompress
from fastwait.receiver import create_wsgi_app
from fastwait.registry import RedisResultStore
from fastwait.testing import FakeProvider

SECRET = "whsec_" + base64.b64encode(b"wsgi-receiver-tests-hmac-secret").decode()
TOKENS = CallbackTokens("wsgi-receiver-tests-callback-secret")
MEDIA_URL = "http://media.test"
MEDIA_JOB_ID = seeds.MEDIA_DONE["jobId"]
FAST = PollPolicy(first_poll=0.05, floor=0.02, ceiling=0.5)

Answer = tuple[int, Any]


def providers() -> list[Provider]:
    return [ToolsFastCompress("test-api-key"), MediaJobs(MEDIA_URL)]


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def signed(body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    return {
        **StandardWebhookSigner(SECRET).headers(msg_id, body),
        "Content-Type": "application/json",
    }


def request(
    root: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    address = urllib.parse.urlsplit(root)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response, response.read()
    finally:
        connection.close()


def post(root: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    status, _, content = request(root, "POST", path, body, headers)
    return status, json.loads(content)


def post_signed(
    root: str, payload: Any, provider: str = "compress", msg_id: str = "msg_1"
) -> Answer:
    body = encode(payload)
    return post(root, f"/hooks/{provider}", body, signed(body, msg_id))


@pytest.fixture
def sync() -> Iterator[SyncClient]:
    """A SyncClient whose registry the app publishes into (its API is never called here)."""
    with SyncClient(ToolsFastCompress("test-api-key"), policy=FAST) as client:
        yield client


@pytest.fixture
def root(sync: SyncClient) -> Iterator[str]:
    app = create_wsgi_app(
        sync, providers(), verifier=StandardWebhookVerifier([SECRET]), callback_tokens=TOKENS
    )
    with serving(app) as url:
        yield url


def stored(sync: SyncClient, key: tuple[str, str]) -> Resolution | None:
    async def look() -> Resolution | None:
        return await sync.registry.resolution(key)

    return sync.run(look())


# --- accepted --------------------------------------------------------------------------------


def test_a_signed_status_is_accepted_and_stored(root: str, sync: SyncClient) -> None:
    assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (200, {"status": "accepted"})
    resolution = stored(sync, ("compress", seeds.TF_JOB_ID))
    assert resolution is not None
    assert resolution.source == "webhook"
    assert resolution.status.state is JobState.SUCCEEDED


def test_a_duplicate_webhook_id_is_acknowledged_and_applied_once(root: str) -> None:
    assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (200, {"status": "accepted"})
    assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (200, {"status": "duplicate"})


def test_a_webhook_signed_by_the_reference_library_is_accepted(root: str) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    signature = Webhook(SECRET).sign("msg_ref", _now(), body.decode())
    headers = {
        "webhook-id": "msg_ref",
        "webhook-timestamp": str(int(_now().timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }
    assert post(root, "/hooks/compress", body, headers) == (200, {"status": "accepted"})


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(tz=UTC).replace(microsecond=0)


def test_a_callback_with_its_jobs_token_is_accepted(root: str, sync: SyncClient) -> None:
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    headers = {"Content-Type": "application/json"}
    assert post(root, f"/callbacks/{token}", encode(seeds.MEDIA_DONE), headers) == (
        200,
        {"status": "accepted"},
    )
    assert stored(sync, ("media", MEDIA_JOB_ID)) is not None


def test_healthz_answers_ok_to_get_and_head(root: str) -> None:
    status, response, body = request(root, "GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert response.getheader("Content-Type") == "application/json; charset=utf-8"
    status, _, body = request(root, "HEAD", "/healthz")
    assert (status, body) == (200, b"")


@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8", "Application/JSON"])
def test_json_content_types_with_parameters_or_other_case_are_accepted(
    root: str, content_type: str
) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    assert (
        post(root, "/hooks/compress", body, {**signed(body), "Content-Type": content_type})[0]
        == 200
    )


def padded_status(size: int) -> bytes:
    body = encode(seeds.TF_COMPRESS_STATUS)
    return body + b" " * (size - len(body))


def test_a_body_of_exactly_the_limit_is_accepted(sync: SyncClient) -> None:
    app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]), max_body_bytes=1024)
    body = padded_status(1024)
    with serving(app) as root:
        assert post(root, "/hooks/compress", body, signed(body)) == (200, {"status": "accepted"})


# --- refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/hooks/compress", 405, "POST"),
        ("POST", "/healthz", 405, "GET, HEAD"),
        ("POST", "/nowhere", 404, None),
        ("POST", "/hooks/", 404, None),
        ("POST", "/hooks/compress/more", 404, None),
        ("GET", "/healthz/", 404, None),
    ],
)
def test_a_request_off_the_routes_is_404_or_405(
    root: str, method: str, path: str, status: int, allow: str | None
) -> None:
    answered, response, body = request(
        root, method, path, b"{}", {"Content-Type": "application/json"}
    )
    assert answered == status
    assert response.getheader("Allow") == allow
    assert json.loads(body) == {"error": "not_found" if status == 404 else "method_not_allowed"}


def test_an_unknown_provider_is_404(root: str) -> None:
    assert post_signed(root, seeds.TF_COMPRESS_STATUS, provider="convert") == (
        404,
        {"error": "unknown_provider"},
    )


def test_without_a_verifier_the_signed_routes_are_404(sync: SyncClient) -> None:
    app = create_wsgi_app(sync, providers(), callback_tokens=TOKENS)
    with serving(app) as root:
        assert post_signed(root, seeds.TF_COMPRESS_STATUS)[0] == 404


def test_without_callback_tokens_the_callback_routes_are_404(sync: SyncClient) -> None:
    app = create_wsgi_app(sync, providers(), verifier=StandardWebhookVerifier([SECRET]))
    token = TOKENS.for_job("media", MEDIA_JOB_ID)
    with serving(app) as root:
        headers = {"Content-Type": "application/json"}
        assert post(root, f"/callbacks/{token}", encode(seeds.MEDIA_DONE), headers)[0] == 404


def test_an_unverifiable_webhook_is_401_and_stores_nothing(root: str, sync: SyncClient) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    forged = body.replace(b"Succeeded", b"Failed")
    assert post(root, "/hooks/compress", forged, signed(body)) == (
        401,
        {"error": "invalid_signature"},
    )
    assert stored(sync, ("compress", seeds.TF_JOB_ID)) is None


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_not_declared_as_utf8_json_is_415(root: str, content_type: str | None) -> None:
    body = encode(seeds.TF_COMPRESS_STATUS)
    headers = {k: v for k, v in signed(body).items() if k != "Content-Type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    assert post(root, "/hooks/compress", body, headers) == (
        415,
        {"error": "unsupported_media_type"},
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"id": "019c", "status": ', "invalid_json"),
        (b"", "invalid_json"),
        (b'{"id": NaN}', "invalid_json"),
        (b'{"id": "\xff\xfe", "status": "Succeeded"}', "invalid_utf8"),
        (encode({**seeds.TF_COMPRESS_STATUS, "status": "Exploded"}), "invalid_status"),
    ],
    ids=["truncated-json", "empty", "nan", "not-utf8", "unknown-status-string"],
)
def test_a_signed_body_that_is_not_a_status_is_400(root: str, body: bytes, error: str) -> None:
    assert post(root, "/hooks/compress", body, signed(body)) == (400, {"error": error})


def read_answer(sock: socket.socket) -> Answer:
    with sock.makefile("rb") as stream:
        response = http.client.HTTPResponse(sock)
        response.fp = stream  # read what the socket already holds
        response.begin()
        return response.status, json.loads(response.read())


def test_a_body_declared_larger_than_the_limit_is_413_before_it_is_sent(sync: SyncClient) -> None:
    app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]), max_body_bytes=1024)
    body = padded_status(1025)
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
    with serving(app) as root, socket.create_connection(_address(root), timeout=30) as sock:
        # The head only: the answer comes without a byte of the body sent.
        sock.sendall(
            f"POST /hooks/compress HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
        )
        assert read_answer(sock) == (413, {"error": "body_too_large"})


def test_a_body_that_stops_arriving_is_408_when_the_servers_read_times_out(
    sync: SyncClient,
) -> None:
    app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))
    body = encode(seeds.TF_COMPRESS_STATUS)
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
    with (
        serving(app, read_timeout=0.2) as root,
        socket.create_connection(_address(root), timeout=30) as sock,
    ):
        sock.sendall(
            f"POST /hooks/compress HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
            + body[:10]
        )
        assert read_answer(sock) == (408, {"error": "body_timeout"})


def _address(root: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(root)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def test_a_bad_callback_token_is_401(root: str) -> None:
    headers = {"Content-Type": "application/json"}
    assert post(root, "/callbacks/not-a-token", encode(seeds.MEDIA_DONE), headers) == (
        401,
        {"error": "invalid_token"},
    )


def test_a_token_for_job_a_refuses_a_status_of_job_b(root: str) -> None:
    token = TOKENS.for_job("media", "job-a")
    headers = {"Content-Type": "application/json"}
    payload = {**seeds.MEDIA_DONE, "jobId": "job-b"}
    assert post(root, f"/callbacks/{token}", encode(payload), headers) == (
        403,
        {"error": "job_mismatch"},
    )


class FailingOnceStore(MemoryResultStore):
    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    async def put_first(self, key: tuple[str, str], resolution: Resolution) -> Resolution:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionResetError("store unavailable")
        return await super().put_first(key, resolution)


def test_a_delivery_that_failed_to_publish_is_503_and_its_retry_is_applied() -> None:
    with SyncClient(ToolsFastCompress("k"), registry=Registry(FailingOnceStore())) as sync:
        app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))
        with serving(app) as root:
            assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (503, {"error": "unavailable"})
            assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (200, {"status": "accepted"})


class GatedStore(MemoryResultStore):
    """Holds every write until ``gate`` opens (on the loop); ``writing`` tells the test."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.gate = asyncio.Event()

    async def put_first(self, key: tuple[str, str], resolution: Resolution) -> Resolution:
        self.writing.set()
        await self.gate.wait()
        return await super().put_first(key, resolution)


def test_a_copy_arriving_while_its_delivery_is_applied_is_409() -> None:
    store = GatedStore()

    async def open_gate() -> None:
        store.gate.set()

    with SyncClient(ToolsFastCompress("k"), registry=Registry(store)) as sync:
        app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))
        with serving(app) as root:
            first: list[Answer] = []
            sender = threading.Thread(
                target=lambda: first.append(post_signed(root, seeds.TF_COMPRESS_STATUS))
            )
            sender.start()
            store.writing.wait()
            assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (
                409,
                {"error": "delivery_in_progress"},
            )
            sync.run(open_gate())
            sender.join()
            assert first == [(200, {"status": "accepted"})]


def test_each_refusal_is_reported_as_an_event() -> None:
    events: list[Event] = []
    with SyncClient(ToolsFastCompress("k"), registry=Registry(on_event=events.append)) as sync:
        app = create_wsgi_app(sync, providers(), verifier=StandardWebhookVerifier([SECRET]))
        with serving(app) as root:
            body = encode(seeds.TF_COMPRESS_STATUS)
            post(root, "/hooks/compress", body, {**signed(body), "Content-Type": "text/plain"})
            post_signed(root, seeds.TF_COMPRESS_STATUS, provider="nope")
    refused = [event for event in events if isinstance(event, WebhookRefused)]
    assert refused == [
        WebhookRefused("compress", 415, "unsupported_media_type"),
        WebhookRefused(None, 404, "unknown_provider"),
    ]


def test_a_closed_client_makes_deliveries_503(sync: SyncClient) -> None:
    app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))
    with serving(app) as root:
        sync.close()
        assert post_signed(root, seeds.TF_COMPRESS_STATUS) == (503, {"error": "unavailable"})


def test_an_unusable_configuration_is_refused(sync: SyncClient) -> None:
    with pytest.raises(ConfigurationError):
        create_wsgi_app(sync)  # neither a verifier nor callback tokens


def test_a_burst_of_deliveries_from_16_threads_resolves_every_waiter(sync: SyncClient) -> None:
    job_ids = [f"019c56457340753ba9441d7b4e6{n:05x}" for n in range(200)]  # tools.fast's GUIDv7s
    app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))

    async def wait_for_all() -> list[Resolution]:
        registry = sync.registry
        waits = (registry.wait_resolution(("compress", j)) for j in job_ids)
        # Bounded, so a delivery refused by mistake fails the test instead of holding the pool.
        return await asyncio.wait_for(asyncio.gather(*waits), timeout=60)

    with serving(app) as root, ThreadPoolExecutor(16) as pool:
        waiting = pool.submit(sync.run, wait_for_all())
        answers = list(
            pool.map(
                lambda j: post_signed(root, {**seeds.TF_COMPRESS_STATUS, "id": j}, msg_id=j),
                job_ids,
            )
        )
        resolutions = waiting.result(timeout=60)
    assert all(answer == (200, {"status": "accepted"}) for answer in answers)
    assert [resolution.status.id for resolution in resolutions] == job_ids
    assert {resolution.source for resolution in resolutions} == {"webhook"}


# --- waking waiters ----------------------------------------------------------------------------


async def test_a_delivery_wakes_a_sync_client_waiting_in_another_thread(
    fake: FakeProvider,
) -> None:
    job_id = fake.create_job("compress", duration=60)
    payload = {**seeds.TF_COMPRESS_STATUS, "id": job_id}
    seen: asyncio.Queue[object] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    provider = ToolsFastCompress("test-key", fake.base_url("compress"))

    def polled(status: object) -> None:
        loop.call_soon_threadsafe(seen.put_nowait, status)

    with SyncClient(provider, policy=FAST, on_progress=polled) as sync:
        app = create_wsgi_app(sync, verifier=StandardWebhookVerifier([SECRET]))
        with serving(app) as root:
            waiting = asyncio.ensure_future(asyncio.to_thread(sync.wait_resolution, job_id, 30))
            await seen.get()  # polled once: the wait is under way
            answer = await asyncio.to_thread(post_signed, root, payload)
            resolution = await waiting
    assert answer == (200, {"status": "accepted"})
    assert resolution.source == "webhook"
    assert resolution.status.id == job_id


@pytest.fixture
async def redis() -> Any:
    async with redis_harness() as harness:
        yield harness


@pytest.mark.redis
async def test_a_delivery_into_redis_wakes_a_waiter_of_another_replica(
    redis: RedisHarness, fake: FakeProvider
) -> None:
    job_id = fake.create_job("compress", duration=60)
    payload = {**seeds.TF_COMPRESS_STATUS, "id": job_id}
    provider = ToolsFastCompress("test-key", fake.base_url("compress"))

    def replica(**options: Any) -> SyncClient:
        store = RedisResultStore(redis.url, prefix=redis.prefix)
        return SyncClient(provider, policy=FAST, registry=Registry(store), **options)

    seen: asyncio.Queue[object] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def polled(status: object) -> None:
        loop.call_soon_threadsafe(seen.put_nowait, status)

    # Made off the test's loop: a Redis store subscribes on the loop it is made in.
    receiving = await asyncio.to_thread(replica)
    waiting = await asyncio.to_thread(replica, on_progress=polled)
    try:
        app = create_wsgi_app(receiving, verifier=StandardWebhookVerifier([SECRET]))
        with serving(app) as root:
            waiter = asyncio.ensure_future(asyncio.to_thread(waiting.wait_resolution, job_id, 30))
            await seen.get()  # the waiting replica polled the job: its wait is under way
            answer = await asyncio.to_thread(post_signed, root, payload)
            resolution = await waiter
    finally:  # closed off the test's loop, where the fake they talk to answers
        await asyncio.to_thread(waiting.close)
        await asyncio.to_thread(receiving.close)
    assert answer == (200, {"status": "accepted"})
    assert resolution.source == "webhook"


# --- the same answers as the aiohttp app ------------------------------------------------------

SERVER_DEPENDENT = {"chunked-over-limit", "chunked-within-limit", "slow-body", "chunks-never-end"}
"""Rows a WSGI app cannot answer alike: wsgiref reads no chunked body, and a body's deadline is
the WSGI server's (the 408 above is answered when the server's read times out)."""


@contextlib.asynccontextmanager
async def wsgi_served(store: MemoryResultStore | None = None) -> AsyncIterator[parity.Served]:
    served = parity.Served(("", 0))
    sync = SyncClient(ToolsFastCompress("test-api-key"), registry=parity._registry(served, store))
    try:
        options = {k: v for k, v in parity.OPTIONS.items() if k != "body_timeout"}
        app = create_wsgi_app(sync, parity.providers(), **options)
        with serving(app) as root:
            served.address = _address(root)
            yield served
    finally:
        await asyncio.to_thread(sync.close)


@pytest.mark.parametrize(
    "row",
    [row for name, row in parity.ROWS.items() if name not in SERVER_DEPENDENT],
    ids=[name for name in parity.ROWS if name not in SERVER_DEPENDENT],
)
async def test_the_wsgi_app_answers_a_request_like_the_aiohttp_app(row: parity.Row) -> None:
    requests = row.requests()
    async with (
        parity.aiohttp_served(parity.FailingOnceStore() if row.failing_store else None) as aio,
        wsgi_served(parity.FailingOnceStore() if row.failing_store else None) as wsgi,
    ):
        from_aiohttp = await parity.run_row(aio, requests)
        from_wsgi = await parity.run_row(wsgi, requests)

    def seen(response: parity.Response) -> dict[str, Any]:
        # The connection is the WSGI server's to keep or close (PEP 3333).
        return {k: v for k, v in response.seen().items() if k != "connection"}

    assert [seen(r) for r in from_wsgi] == [seen(r) for r in from_aiohttp]
    assert wsgi.statuses == aio.statuses
    assert wsgi.events == aio.events
