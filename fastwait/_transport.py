"""Carrying out :class:`ApiRequest` values over one aiohttp session.

The one boundary where aiohttp's exceptions become fastwait's (``raise ... from``): a refused,
reset or timed-out request is a :class:`TransportError`, a body cut short is a transient
:class:`BadResponseError`, an error status is whatever the provider's ``parse_error`` says.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from fastwait.exceptions import BadResponseError, ConfigurationError, TransportError
from fastwait.providers import ApiRequest, Provider
from fastwait.providers._headers import parse_retry_after

__all__ = ["HttpTransport", "JsonResponse"]

_MAX_JSON_BYTES = 16 << 20


class JsonResponse:
    """A decoded JSON body and the response headers it came with."""

    __slots__ = ("headers", "payload", "status")

    def __init__(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        self.status = status
        self.payload = payload
        self.headers = headers

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        return None if value is None else parse_retry_after(value, datetime.now(UTC))


def _json_body(value: Any) -> bytes:
    """``value`` as a JSON request body; a value JSON cannot carry is a ConfigurationError."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"the request's json body is not JSON: {exc}") from None


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        text = body.decode("utf-8", "replace").rstrip()
        truncated = isinstance(exc, json.JSONDecodeError) and (
            exc.pos >= len(text) - 1 or exc.msg.startswith("Unterminated")
        )
        what = "truncated" if truncated else "not valid"
        raise BadResponseError(f"response JSON is {what}: {exc}", transient=truncated) from None


class HttpTransport:
    """Sends one provider's requests over a session it does not own."""

    def __init__(self, session: aiohttp.ClientSession, provider: Provider) -> None:
        self._session = session
        self._provider = provider

    @contextlib.asynccontextmanager
    async def open(
        self, request: ApiRequest, *, ok: tuple[int, ...] = (200,), upload: Path | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to ``request`` with its body unread, once its status is in ``ok``."""
        with contextlib.ExitStack() as files:
            data: aiohttp.FormData | bytes | None = request.content
            headers = request.headers
            if request.json is not None:
                data = _json_body(request.json)
                if not any(name.lower() == "content-type" for name in headers):
                    headers = {**headers, "Content-Type": "application/json"}
            elif request.file_field is not None or request.fields:
                data = aiohttp.FormData()
                for name, value in request.fields.items():
                    data.add_field(name, value)
                if request.file_field is not None:
                    if upload is None:
                        raise ConfigurationError("this request needs a file to upload")
                    handle = files.enter_context(upload.open("rb"))
                    data.add_field(request.file_field, handle, filename=upload.name)
            try:
                async with self._session.request(
                    request.method, request.url, headers=headers, data=data
                ) as response:
                    if response.status not in ok:
                        body = await response.content.read(1 << 16)
                        raise self._provider.parse_error(response.status, body, response.headers)
                    yield response
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _mapped_error(request, exc) from exc
            except UnicodeError:
                raise _unusable_host(request) from None

    async def json(
        self,
        request: ApiRequest,
        *,
        ok: tuple[int, ...] = (200,),
        upload: Path | None = None,
        empty_ok: bool = False,
    ) -> JsonResponse:
        """Send ``request`` and decode its JSON body."""
        if upload is None and not request.has_body:
            return await self._json_without_body(request, ok)
        async with self.open(request, ok=ok, upload=upload) as response:
            return await _json_response(response, empty_ok=empty_ok)

    async def _json_without_body(self, request: ApiRequest, ok: tuple[int, ...]) -> JsonResponse:
        """:meth:`json` for a request without a body (every status poll): the same answers
        and errors as through :meth:`open`, without its context-manager machinery."""
        try:
            async with self._session.request(
                request.method, request.url, headers=request.headers
            ) as response:
                if response.status not in ok:
                    body = await response.content.read(1 << 16)
                    raise self._provider.parse_error(response.status, body, response.headers)
                return await _json_response(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped_error(request, exc) from exc
        except UnicodeError:
            raise _unusable_host(request) from None

    async def empty(self, request: ApiRequest, *, ok: tuple[int, ...]) -> Mapping[str, str]:
        """Send ``request`` whose success answer has no body; return the headers."""
        async with self.open(request, ok=ok) as response:
            await response.read()
            return response.headers


async def _json_response(
    response: aiohttp.ClientResponse, *, empty_ok: bool = False
) -> JsonResponse:
    body = await response.content.read(_MAX_JSON_BYTES + 1)
    if empty_ok and not body.strip():
        return JsonResponse(response.status, None, response.headers)
    if len(body) > _MAX_JSON_BYTES:
        raise BadResponseError(f"response JSON exceeds {_MAX_JSON_BYTES} bytes")
    if response.content_length is not None and len(body) < response.content_length:
        raise BadResponseError("response JSON is truncated", transient=True)
    return JsonResponse(response.status, _decode_json(body), response.headers)


def _mapped_error(
    request: ApiRequest, exc: aiohttp.ClientError | TimeoutError
) -> BadResponseError | TransportError:
    """fastwait's error for an aiohttp failure of ``request``: a body cut short is a transient
    :class:`BadResponseError`, anything else a :class:`TransportError`."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        return BadResponseError(f"response body was cut short: {exc}", transient=True)
    return _transport_error(request, exc)


def _unusable_host(request: ApiRequest) -> BadResponseError:
    """aiohttp raises :class:`UnicodeError` (its text repeats the URL) for a host name IDNA
    cannot encode (``storage..example``): only an API-given URL can hold one, and it stays
    unusable, so it is a permanent :class:`BadResponseError` that names only the path."""
    return BadResponseError(
        f"{request.method} {_path_of(request.url)}: the URL's host name is not valid"
    )


def _transport_error(request: ApiRequest, exc: BaseException) -> TransportError:
    detail = _URL_SECRETS.sub("?[redacted]", str(exc))
    return TransportError(
        f"{request.method} {_path_of(request.url)} failed: {type(exc).__name__}"
        f"{': ' + detail if detail else ''}"
    )


_URL_SECRETS = re.compile(r"\?[^\s'\"]*")
"""The query (and fragment) of any URL in an aiohttp message: a redirect's or an invalid URL's
text repeats the whole URL, and a pre-signed URL's query is its credential."""


def _path_of(url: str) -> str:
    # Only the path: query strings of pre-signed URLs carry credentials.
    return url.split("?", 1)[0]
