"""Carrying out :class:`ApiRequest` values over one aiohttp session.

The one boundary where aiohttp's exceptions become fastwait's (``raise ... from``): a refused,
reset or timed-out request is a :class:`TransportError`, a body cut short is a transient
:class:`BadResponseError`, an error status is whatever the provider's ``parse_error`` says.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from fastwait._json import json_decoder
from fastwait._request_arguments import RequestArguments
from fastwait.exceptions import BadResponseError, ConfigurationError, TransportError
from fastwait.providers import ApiRequest, Provider
from fastwait.providers._headers import parse_retry_after
from fastwait.providers._urls import require_http_url, same_origin

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "MAX_REDIRECTS", "HttpTransport", "JsonResponse"]

DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
"""Largest JSON answer read, in bytes: a status is a few hundred, a compare answer with its two
preview images a few hundred thousand."""


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
        return json_decoder().loads(body)  # json.loads, faster with the speed extra
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        text = body.decode("utf-8", "replace").rstrip()
        truncated = isinstance(exc, json.JSONDecodeError) and (
            exc.pos >= len(text) - 1 or exc.msg.startswith("Unterminated")
        )
        what = "truncated" if truncated else "not valid"
        raise BadResponseError(f"response JSON is {what}: {exc}", transient=truncated) from None


class HttpTransport:
    """Sends one provider's requests over a session it does not own.

    A JSON answer is read whole, up to ``max_response_bytes``, before it is decoded.
    Redirects are followed here, not by aiohttp (which forwards every header but
    ``Authorization`` to any origin): at most :data:`MAX_REDIRECTS` hops, and the provider's
    :attr:`~fastwait.providers.Provider.credential_headers` (and any header holding one of
    its :meth:`~fastwait.providers.Provider.secrets`) go only to the origin of the request
    the provider made. A hop addressed elsewhere (a redirect to a CDN or object
    storage) is sent without them, and once dropped they are never sent again. (An output
    URL on another origin gets none from the provider's ``download_request`` to begin with.)
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        provider: Provider,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._session = session
        self._provider = provider
        self._max_response_bytes = max_response_bytes
        self._credentials = frozenset(name.lower() for name in provider.credential_headers)
        self._secrets = tuple(secret for secret in provider.secrets() if secret)
        base_url = getattr(provider, "base_url", None)
        self._arguments = RequestArguments(base_url if isinstance(base_url, str) else None)

    def _addressed(self, request: ApiRequest, home: str) -> ApiRequest:
        """``request`` (a redirect hop) without the credential headers unless it goes to the
        origin of ``home``, the URL of the request the provider made."""
        headers = request.headers
        if not headers or same_origin(request.url, home):
            return request
        kept = {
            k: v
            for k, v in headers.items()
            if k.lower() not in self._credentials and not any(s in v for s in self._secrets)
        }
        return request if len(kept) == len(headers) else attrs.evolve(request, headers=kept)

    @contextlib.asynccontextmanager
    async def open(
        self, request: ApiRequest, *, ok: tuple[int, ...] = (200,), upload: Path | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to ``request`` with its body unread, once its status is in ``ok``."""
        async with self._follow(request, ok, upload, hops=0, home=request.url) as response:
            yield response

    @contextlib.asynccontextmanager
    async def _follow(
        self,
        request: ApiRequest,
        ok: tuple[int, ...],
        upload: Path | None,
        *,
        hops: int,
        home: str,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """:meth:`open`, ``hops`` redirects into the chain from ``home`` already."""
        with contextlib.ExitStack() as files:
            while True:
                if hops:
                    request = self._addressed(request, home)
                data, headers = _body(request, upload, files)
                try:
                    async with self._session.request(
                        request.method,
                        request.url,
                        headers=headers,
                        data=data,
                        allow_redirects=False,
                    ) as response:
                        if response.status in ok:
                            yield response
                            return
                        redirect = _redirected(request, response, hops)
                        if redirect is None:
                            body = await _error_body(response)
                            raise self._provider.parse_error(
                                response.status, body, response.headers
                            )
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise _mapped_error(request, exc) from exc
                except UnicodeError:
                    raise _unusable_host(request) from None
                request, hops = redirect, hops + 1

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
            return await _json_response(response, self._max_response_bytes, empty_ok=empty_ok)

    async def _json_without_body(self, request: ApiRequest, ok: tuple[int, ...]) -> JsonResponse:
        """:meth:`json` for a request without a body (every status poll): the same answers
        and errors as through :meth:`open`, without its context-manager machinery unless the
        API redirects."""
        try:
            async with self._session.request(
                request.method,
                self._arguments.url(request.url),
                headers=self._arguments.headers(request.headers),
                allow_redirects=False,
            ) as response:
                if response.status in ok:
                    return await _json_response(response, self._max_response_bytes)
                redirect = _redirected(request, response, 0)
                if redirect is None:
                    body = await _error_body(response)
                    raise self._provider.parse_error(response.status, body, response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped_error(request, exc) from exc
        except UnicodeError:
            raise _unusable_host(request) from None
        async with self._follow(redirect, ok, None, hops=1, home=request.url) as response:
            return await _json_response(response, self._max_response_bytes)

    async def empty(self, request: ApiRequest, *, ok: tuple[int, ...]) -> Mapping[str, str]:
        """Send ``request`` whose success answer has no body; return the headers."""
        async with self.open(request, ok=ok) as response:
            await response.read()
            return response.headers


MAX_REDIRECTS = 10
"""Redirect hops followed for one request; one more is a :class:`TransportError`."""

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _body(
    request: ApiRequest, upload: Path | None, files: contextlib.ExitStack
) -> tuple[aiohttp.FormData | bytes | None, Mapping[str, str]]:
    """The body of ``request`` and the headers to send with it (built anew for each redirect
    hop: a multipart body is read once)."""
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
    return data, headers


def _redirected(
    request: ApiRequest, response: aiohttp.ClientResponse, hops: int
) -> ApiRequest | None:
    """The request a redirect answer asks for next, or None when ``response`` is no redirect.

    303, and 301/302 to anything but GET or HEAD, become a GET without a body (as browsers and
    aiohttp do); 307 and 308 repeat the request. Past :data:`MAX_REDIRECTS` hops, or to a
    ``Location`` that is not an http(s) URL, the request got no usable answer: a
    :class:`TransportError`, as aiohttp's own redirect errors were.
    """
    location = response.headers.get("Location")
    if response.status not in _REDIRECT_STATUSES or location is None:
        return None
    if hops >= MAX_REDIRECTS:
        raise TransportError(
            f"{request.method} {_path_of(request.url)} failed: more than {MAX_REDIRECTS} redirects"
        )
    try:
        url = require_http_url(urllib.parse.urljoin(request.url, location.strip()), "Location")
    except (ConfigurationError, ValueError):
        raise TransportError(
            f"{request.method} {_path_of(request.url)} failed: redirected to a URL that is "
            "not http(s)"
        ) from None
    url = url.split("#", 1)[0]
    if response.status == 303 or (
        response.status in (301, 302) and request.method not in ("GET", "HEAD")
    ):
        return ApiRequest("HEAD" if request.method == "HEAD" else "GET", url, request.headers)
    return attrs.evolve(request, url=url)


async def _json_response(
    response: aiohttp.ClientResponse, limit: int, *, empty_ok: bool = False
) -> JsonResponse:
    body = await _read_body(response, limit)
    if empty_ok and not body.strip():
        return JsonResponse(response.status, None, response.headers)
    try:
        payload = _decode_json(body)
    except RecursionError:
        # No status nests a thousand deep; a hostile or broken API's answer may.
        raise BadResponseError("response JSON is nested too deeply") from None
    return JsonResponse(response.status, payload, response.headers)


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``response``, at most ``limit`` bytes.

    ``content.read(n)`` returns what has arrived so far, so it is called until the end of the
    body: a status sent in two writes, or a chunk cut inside a character, is decoded only once
    complete. A body cut short raises aiohttp's payload error (a transient error, mapped by the
    caller); a larger one is a transient :class:`BadResponseError` (an API or proxy sending
    megabytes for a status is misbehaving now, and may not be later).
    """
    length = response.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    content = response.content
    body = await content.read(limit + 1)
    if content.at_eof() and len(body) <= limit:
        return body  # all of it had arrived: the common case
    parts = [body]
    size = len(body)
    while size <= limit and (part := await content.read(limit + 1 - size)):
        parts.append(part)
        size += len(part)
    if size > limit:
        raise _too_large(limit)
    return b"".join(parts)


_MAX_ERROR_BYTES = 1 << 16


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
    """An error answer's body read to its end, or its first 64 KiB: an envelope is a few
    hundred bytes, and a 409's code decides whether it is a conflict or "not ready yet", so
    it must not be decided on the part that arrived first."""
    content = response.content
    parts: list[bytes] = []
    size = 0
    while size < _MAX_ERROR_BYTES and (part := await content.read(_MAX_ERROR_BYTES - size)):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _too_large(limit: int) -> BadResponseError:
    return BadResponseError(f"response JSON is larger than {limit} bytes", transient=True)


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
