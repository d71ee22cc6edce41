"""Every hostile request, sent over real sockets to the aiohttp app and to the ASGI app under
uvicorn, gets the same answer from both: status, body, Content-Type, Allow, Connection.

Both apps carry bytes to and from one ``WebhookEndpoints``; this table is what keeps them from
drifting. Each row's requests are raw HTTP/1.1 bytes, sent alike to both servers (a fresh
receiver and registry each, with the same settings), one connection per request. The row also
states the answers it expects, so two apps wrong in the same way fail too, and the two
registries must have seen the same statuses and the same receiver events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import attrs
import pytest
import seed_payloads as seeds
import uvicorn

from fastwait import (
    CallbackTokens,
    MemoryResultStore,
    Registry,
    Resolution,
    StandardWebhookSigner,
    StandardWebhookVerifier,
)
from fastwait.events import Event, WebhookAccepted, WebhookRefused
from fastwait.providers import MediaJobs, Provider, ToolsFastCompress
from fastwait.receiver import create_app, create_asgi_app, serve

SECRET = "whsec_" + base64.b64encode(b"parity-tests-hmac-secret-0123456").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-hmac-secret-0123456789").decode()
TOKENS = CallbackTokens("parity-tests-callback-secret")
FORGED_TOKENS = CallbackTokens("another-callback-secret")
LIMIT = 1024
BODY_TIMEOUT = 0.4
MARGIN = 10.0  # seconds: a guard against a hung server, never a measure of speed
MEDIA_ID = seeds.MEDIA_DONE["jobId"]


def providers() -> list[Provider]:
    return [ToolsFastCompress("test-api-key"), MediaJobs("http://media.test")]


# --- requests -----------------------------------------------------------------------------


def request(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> bytes:
    """An HTTP/1.1 request; Content-Length is the body's unless ``length`` says otherwise."""
    lines = [f"{method} {path} HTTP/1.1", "Host: receiver.test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if "Transfer-Encoding" not in (headers or {}) and (body or method == "POST"):
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def signed(body: bytes, msg_id: str = "msg_1", **options: Any) -> dict[str, str]:
    signer = StandardWebhookSigner(options.pop("secret", SECRET))
    return {"Content-Type": "application/json", **signer.headers(msg_id, body, **options)}


def status_body(**changes: Any) -> bytes:
    return json.dumps({**seeds.TF_COMPRESS_STATUS, **changes}).encode()


def hook(body: bytes, headers: dict[str, str] | None = None, provider: str = "compress") -> bytes:
    return request("POST", f"/hooks/{provider}", body, signed(body) if headers is None else headers)


def callback(token: str, payload: dict[str, Any], content_type: str = "application/json") -> bytes:
    return request(
        "POST", f"/callbacks/{token}", json.dumps(payload).encode(), {"Content-Type": content_type}
    )


def chunked(path: str, chunks: Sequence[bytes], *, last: bool = True) -> bytes:
    head = request(
        "POST", path, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return head + body + (b"0\r\n\r\n" if last else b"")


# --- the table ----------------------------------------------------------------------------


@attrs.frozen
class Row:
    """Requests sent in order (each on its own connection), and the answers they must get:
    ``(status, body)``, body None for a HEAD."""

    requests: Callable[[], list[bytes]]
    expected: list[tuple[int, Any]]
    failing_store: bool = False


def error(status: int, code: str) -> tuple[int, Any]:
    return status, {"error": code}


ACCEPTED = (200, {"status": "accepted"})
FULL_STATUS = status_body()

ROWS: dict[str, Row] = {
    "healthz": Row(lambda: [request("GET", "/healthz")], [(200, {"status": "ok"})]),
    "healthz-head": Row(lambda: [request("HEAD", "/healthz")], [(200, None)]),
    "healthz-wrong-method": Row(
        lambda: [request("POST", "/healthz", b"{}")], [error(405, "method_not_allowed")]
    ),
    "hook-wrong-method": Row(
        lambda: [request("GET", "/hooks/compress")], [error(405, "method_not_allowed")]
    ),
    "callback-wrong-method": Row(
        lambda: [request("PUT", "/callbacks/x", b"{}")], [error(405, "method_not_allowed")]
    ),
    "unknown-path": Row(lambda: [request("GET", "/elsewhere")], [error(404, "not_found")]),
    "hooks-without-name": Row(
        lambda: [request("POST", "/hooks/", FULL_STATUS, signed(FULL_STATUS))],
        [error(404, "not_found")],
    ),
    "unknown-provider": Row(
        lambda: [hook(FULL_STATUS, provider="convert")], [error(404, "unknown_provider")]
    ),
    "accepted": Row(lambda: [hook(FULL_STATUS)], [ACCEPTED]),
    "json-with-parameters": Row(
        lambda: [
            hook(
                FULL_STATUS,
                {**signed(FULL_STATUS), "Content-Type": "Application/JSON; charset=UTF-8"},
            )
        ],
        [ACCEPTED],
    ),
    "text-plain": Row(
        lambda: [hook(FULL_STATUS, {**signed(FULL_STATUS), "Content-Type": "text/plain"})],
        [error(415, "unsupported_media_type")],
    ),
    "latin-1-charset": Row(
        lambda: [
            hook(
                FULL_STATUS,
                {**signed(FULL_STATUS), "Content-Type": "application/json; charset=latin-1"},
            )
        ],
        [error(415, "unsupported_media_type")],
    ),
    "no-content-type": Row(
        lambda: [
            request(
                "POST",
                "/hooks/compress",
                FULL_STATUS,
                {k: v for k, v in signed(FULL_STATUS).items() if k != "Content-Type"},
            )
        ],
        [error(415, "unsupported_media_type")],
    ),
    "declared-over-limit": Row(
        lambda: [request("POST", "/hooks/compress", b"", signed(b"{}"), length=LIMIT * 1000)],
        [error(413, "body_too_large")],
    ),
    "exactly-the-limit": Row(lambda: [hook(FULL_STATUS.ljust(LIMIT))], [ACCEPTED]),
    "one-byte-over-the-limit": Row(
        lambda: [hook(FULL_STATUS.ljust(LIMIT + 1))], [error(413, "body_too_large")]
    ),
    "chunked-over-limit": Row(
        lambda: [chunked("/hooks/compress", [b" " * 512] * 4)], [error(413, "body_too_large")]
    ),
    "chunked-within-limit": Row(
        lambda: [
            request(
                "POST",
                "/hooks/compress",
                headers={**signed(FULL_STATUS), "Transfer-Encoding": "chunked"},
            )
            + b"".join(
                b"%x\r\n%s\r\n" % (len(part), part)
                for part in (FULL_STATUS[:100], FULL_STATUS[100:])
            )
            + b"0\r\n\r\n"
        ],
        [ACCEPTED],
    ),
    "slow-body": Row(
        lambda: [
            request(
                "POST",
                "/hooks/compress",
                FULL_STATUS[:10],
                signed(FULL_STATUS),
                length=len(FULL_STATUS),
            )
        ],
        [error(408, "body_timeout")],
    ),
    "chunks-never-end": Row(
        lambda: [chunked("/hooks/compress", [FULL_STATUS[:10]], last=False)],
        [error(408, "body_timeout")],
    ),
    "bad-json": Row(lambda: [hook(b"{not json")], [error(400, "invalid_json")]),
    "not-utf8": Row(lambda: [hook(b'{"id": "\xff"}')], [error(400, "invalid_utf8")]),
    "not-a-status": Row(lambda: [hook(b'{"hello": "world"}')], [error(400, "invalid_status")]),
    "job-of-another-api": Row(  # a UUIDv4 (compressor.app's) cannot be a tools.fast job
        lambda: [hook(status_body(id="9b2f4c1e-8a3d-4f6b-9c2e-1d5a7b3c9e0f"))],
        [error(422, "job_of_another_api")],
    ),
    "forged-signature": Row(
        lambda: [hook(FULL_STATUS, signed(FULL_STATUS, secret=OTHER_SECRET))],
        [error(401, "invalid_signature")],
    ),
    "tampered-body": Row(
        lambda: [hook(status_body(status="Failed"), signed(FULL_STATUS))],
        [error(401, "invalid_signature")],
    ),
    "stale-timestamp": Row(
        lambda: [hook(FULL_STATUS, signed(FULL_STATUS, timestamp=int(time.time()) - 3600))],
        [error(401, "invalid_signature")],
    ),
    "missing-signature": Row(
        lambda: [hook(FULL_STATUS, {"Content-Type": "application/json"})],
        [error(401, "invalid_signature")],
    ),
    "replayed-webhook-id": Row(
        lambda: [hook(FULL_STATUS), hook(FULL_STATUS)],
        [ACCEPTED, (200, {"status": "duplicate"})],
    ),
    "store-down-then-retry": Row(
        lambda: [hook(FULL_STATUS), hook(FULL_STATUS)],
        [error(503, "unavailable"), ACCEPTED],
        failing_store=True,
    ),
    "callback": Row(
        lambda: [callback(TOKENS.for_job("media", MEDIA_ID), seeds.MEDIA_DONE)], [ACCEPTED]
    ),
    "forged-callback-token": Row(
        lambda: [callback(FORGED_TOKENS.for_job("media", MEDIA_ID), seeds.MEDIA_DONE)],
        [error(401, "invalid_token")],
    ),
    "foreign-callback-token": Row(
        lambda: [callback(TOKENS.for_job("convert", MEDIA_ID), seeds.MEDIA_DONE)],
        [error(404, "unknown_provider")],
    ),
    "callback-for-another-job": Row(
        lambda: [callback(TOKENS.for_job("media", "job-a"), seeds.MEDIA_DONE)],
        [error(403, "job_mismatch")],
    ),
    "callback-not-json": Row(
        lambda: [callback(TOKENS.for_job("media", MEDIA_ID), seeds.MEDIA_DONE, "text/json")],
        [error(415, "unsupported_media_type")],
    ),
}


# --- servers ------------------------------------------------------------------------------


class FailingOnceStore(MemoryResultStore):
    """A store whose first write fails, as a store that is briefly down does."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    async def put_first(self, key: tuple[str, str], resolution: Resolution) -> Resolution:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionResetError("store unavailable")
        return await super().put_first(key, resolution)


@attrs.define
class Served:
    """A running app: where it listens, and what its registry was told."""

    address: tuple[str, int]
    statuses: list[tuple[str, str, str]] = attrs.Factory(list)
    events: list[Event] = attrs.Factory(list)


def _registry(served: Served, store: MemoryResultStore | None) -> Registry:
    def note(event: Event) -> None:
        if isinstance(event, WebhookAccepted | WebhookRefused):
            served.events.append(event)

    registry = Registry(store, on_event=note)
    registry.subscribe(
        lambda status: served.statuses.append((status.provider, status.id, status.state.name))
    )
    return registry


OPTIONS: dict[str, Any] = {
    "verifier": StandardWebhookVerifier([SECRET]),
    "callback_tokens": TOKENS,
    "max_body_bytes": LIMIT,
    "body_timeout": BODY_TIMEOUT,
}


@contextlib.asynccontextmanager
async def aiohttp_served(store: MemoryResultStore | None = None) -> AsyncIterator[Served]:
    served = Served(("", 0))
    async with _registry(served, store) as registry:
        app = create_app(registry, providers(), **OPTIONS)
        async with serve(app, "127.0.0.1", 0) as url:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            served.address = (host, int(port))
            yield served


@contextlib.asynccontextmanager
async def uvicorn_served(
    store: MemoryResultStore | None = None, **config: Any
) -> AsyncIterator[Served]:
    served = Served(("", 0))
    async with _registry(served, store) as registry:
        app = create_asgi_app(registry, providers(), **OPTIONS)
        async with uvicorn_server(app, **config) as address:
            served.address = address
            yield served


@contextlib.asynccontextmanager
async def uvicorn_server(app: Any, **config: Any) -> AsyncIterator[tuple[str, int]]:
    """uvicorn serving ``app`` on a socket bound to 127.0.0.1 port 0.

    The socket listens before uvicorn starts, so a connection made at once waits in the
    backlog until uvicorn accepts it: nothing to wait for.
    """
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it a response written in two parts waits for a delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    options = {"lifespan": "off", "log_level": "warning", "access_log": False, **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        await task
        sock.close()


# --- exchange -----------------------------------------------------------------------------


@attrs.frozen
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def seen(self) -> dict[str, Any]:
        """What must be the same from both servers."""
        return {
            "status": self.status,
            "body": self.body,
            **{name: self.headers.get(name) for name in ("content-type", "allow", "connection")},
        }


async def exchange(address: tuple[str, int], raw: bytes) -> Response:
    """Send ``raw`` on a new connection and read one response (the body by Content-Length)."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(MARGIN):
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in filter(None, lines):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = 0 if raw.startswith(b"HEAD ") else int(headers.get("content-length", 0))
            body = await reader.readexactly(length)
        return Response(int(status_line.split()[1]), headers, body)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def run_row(served: Served, requests: list[bytes]) -> list[Response]:
    return [await exchange(served.address, raw) for raw in requests]


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
async def test_both_apps_answer_a_request_alike(row: Row) -> None:
    requests = row.requests()
    assert requests, "the row builds no request"
    async with (
        aiohttp_served(FailingOnceStore() if row.failing_store else None) as aio,
        uvicorn_served(FailingOnceStore() if row.failing_store else None) as asgi,
    ):
        from_aiohttp, from_asgi = await asyncio.gather(
            run_row(aio, requests), run_row(asgi, requests)
        )
    answers = [(r.status, None if not r.body else json.loads(r.body)) for r in from_aiohttp]
    assert answers == row.expected
    assert [r.seen() for r in from_asgi] == [r.seen() for r in from_aiohttp]
    assert asgi.statuses == aio.statuses
    assert asgi.events == aio.events
    for response in from_aiohttp:
        if response.status in (408, 413):
            assert response.headers.get("connection") == "close"


def test_every_status_the_receiver_documents_is_in_the_table() -> None:
    documented = {200, 400, 401, 403, 404, 405, 408, 413, 415, 422, 503}
    assert documented <= {status for row in ROWS.values() for status, _ in row.expected}


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


async def copies_while_applying(served: Served, store: GatedStore) -> list[Response]:
    """A delivery held in the store, a copy of it meanwhile, then a copy after it."""
    first = asyncio.create_task(exchange(served.address, hook(FULL_STATUS)))
    await store.writing.wait()
    meanwhile = await exchange(served.address, hook(FULL_STATUS))
    store.gate.set()
    return [meanwhile, await first, await exchange(served.address, hook(FULL_STATUS))]


async def test_both_apps_answer_409_to_a_copy_arriving_while_its_delivery_is_applied() -> None:
    aio_store, asgi_store = GatedStore(), GatedStore()
    async with aiohttp_served(aio_store) as aio, uvicorn_served(asgi_store) as asgi:
        from_aiohttp = await copies_while_applying(aio, aio_store)
        from_asgi = await copies_while_applying(asgi, asgi_store)
    assert [(r.status, json.loads(r.body)) for r in from_aiohttp] == [
        error(409, "delivery_in_progress"),
        ACCEPTED,
        (200, {"status": "duplicate"}),
    ]
    assert [r.seen() for r in from_asgi] == [r.seen() for r in from_aiohttp]
    assert asgi.events == aio.events


async def test_behind_a_proxy_that_strips_the_prefix_the_asgi_app_serves_below_root_path() -> None:
    # uvicorn --root-path /fastwait: the proxy sends /hooks/compress, the app sees the full path.
    async with uvicorn_served(root_path="/fastwait") as asgi:
        healthz = await exchange(asgi.address, request("GET", "/healthz"))
        delivery = await exchange(asgi.address, hook(FULL_STATUS))
    assert (healthz.status, json.loads(healthz.body)) == (200, {"status": "ok"})
    assert (delivery.status, json.loads(delivery.body)) == ACCEPTED
    assert asgi.statuses == [("compress", seeds.TF_JOB_ID, "SUCCEEDED")]


async def test_served_alone_with_its_lifespan_on_the_asgi_app_starts_and_stops() -> None:
    async with uvicorn_served(lifespan="on") as asgi:
        healthz = await exchange(asgi.address, request("GET", "/healthz"))
    assert (healthz.status, json.loads(healthz.body)) == (200, {"status": "ok"})
