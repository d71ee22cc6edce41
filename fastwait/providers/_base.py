"""The sans-I/O interface every job API implements, and what a request and a call are.

A provider only turns intentions into :class:`ApiRequest` values and decoded payloads into models
or exceptions; it never opens a socket. The :class:`fastwait.Client` executes the requests, the
poller and the webhook receiver share :meth:`Provider.parse_status`, and tests exercise every
translation with plain dicts.

Only :meth:`Provider.status_request` and :meth:`Provider.parse_status` must be written: a
status-only provider is those two methods and a ``name``. Every other operation has a default
that either raises :class:`UnsupportedOperationError` (the API has no such endpoint) or reads
the answer by the conventions most JSON APIs follow.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

import attrs

from fastwait._models import JobAccepted, JobState, JobStatus
from fastwait.exceptions import (
    ApiError,
    BadResponseError,
    ConfigurationError,
    UnsupportedOperationError,
)
from fastwait.providers._errors import api_error, decode_json
from fastwait.providers._urls import same_origin
from fastwait.providers._validation import payload_job_id

__all__ = ["ApiCall", "ApiRequest", "Provider"]

_T = TypeVar("_T")


def _one_body(request: ApiRequest, attribute: attrs.Attribute[Any], value: Any) -> None:
    bodies = [
        kind
        for kind, given in (
            ("multipart", bool(request.fields) or request.file_field is not None),
            ("json", request.json is not None),
            ("content", request.content is not None),
        )
        if given
    ]
    if len(bodies) > 1:
        raise ConfigurationError(f"an ApiRequest has one body, not {' and '.join(bodies)}")
    if request.content is not None and not isinstance(request.content, bytes):
        raise ConfigurationError("ApiRequest content must be bytes")


@attrs.frozen
class ApiRequest:
    """One HTTP request to make, fully described.

    The body is one of three kinds, or none: ``fields`` are multipart text fields (when
    ``file_field`` is set the client sends a multipart body with the caller's file under that
    field name); ``json`` is any JSON-serializable value, sent as ``application/json``;
    ``content`` is raw bytes, sent as they are (set ``Content-Type`` in ``headers``). Giving
    two kinds is a :class:`ConfigurationError`. ``headers`` carry authentication, so an
    ``ApiRequest`` is never logged whole (its repr hides header values and bodies).
    """

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=lambda h: f"<{len(h)} headers>")
    fields: Mapping[str, str] = attrs.field(factory=dict)
    file_field: str | None = None
    json: Any = attrs.field(default=None, repr=lambda v: "<json>" if v is not None else "None")
    content: bytes | None = attrs.field(
        default=None,
        repr=lambda v: "None" if v is None else f"<{len(v)} bytes>",
        validator=_one_body,
    )

    @property
    def has_body(self) -> bool:
        """Whether the request sends a body (a status poll usually does not)."""
        return (
            bool(self.fields)
            or self.file_field is not None
            or self.json is not None
            or self.content is not None
        )


@attrs.frozen
class ApiCall(Generic[_T]):
    """An API operation beyond the job lifecycle: a request and how to read its answer.

    A provider offers its own operations as methods returning calls (tools.fast compress:
    ``compare(job_id)``, ``compressors()``, ``entitlements()``), and
    :meth:`fastwait.Client.call` runs any of them: it sends ``request``, maps an error answer
    with the provider's :meth:`Provider.parse_error`, and returns ``parse`` of the decoded JSON
    body when the status is in ``ok``.
    """

    request: ApiRequest
    parse: Callable[[Any], _T]
    ok: tuple[int, ...] = (200,)


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ERROR_CODE_KEYS = ("code", "error")
_ERROR_DETAIL_KEYS = ("detail", "message", "title", "error_description")


def _first_text(values: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((v for k in keys if isinstance(v := values.get(k), str)), None)


class Provider(abc.ABC):
    """One remote job API: how to address it and how to read what it says.

    ``name`` is the name the CLI, the registry keys and the webhook routes (``/hooks/{name}``)
    use (``compress``, ``convert``, ``compressorapp``, ``media``, or a provider of your own):
    lower-case letters, digits, ``-`` and ``_``, checked when the class is defined.
    ``reports_progress`` says whether status payloads carry a completion percentage the poller
    can extrapolate from; ``signs_webhooks`` whether the API signs its webhooks (Standard
    Webhooks) or needs per-job callback tokens.

    A subclass must set ``name`` and write :meth:`status_request` and :meth:`parse_status`;
    everything else is optional. Subclasses must never put credentials in ``repr`` or in
    exception messages: list them in :meth:`secrets` and the default error reading removes them.
    """

    name: ClassVar[str]
    reports_progress: ClassVar[bool] = False
    signs_webhooks: ClassVar[bool] = True
    """False for APIs whose webhooks carry no signature: they get per-job callback tokens."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
            raise ConfigurationError(
                f"{cls.__qualname__}.name {name!r} must be 1-63 of a-z 0-9 - _ (it names the "
                "provider's routes and registry keys), starting with a letter or digit"
            )

    @classmethod
    def from_settings(cls, api_key: str | None, base_url: str | None) -> Self:
        """This provider, built from the two settings a command or a service has for it.

        ``api_key`` is its credential, ``base_url`` its API root (None: the API's real host).
        ``fastwait wait``, ``fastwait receive`` and the webhook receiver build every provider
        (built-in or installed, see :func:`fastwait.providers.provider_class`) this way, by
        name; this default calls the constructor as ``(api_key)`` or ``(api_key, base_url)``,
        so a provider whose constructor differs overrides it. Raises
        :class:`ConfigurationError` when a setting the API needs is missing or invalid.
        """
        if not api_key:
            raise ConfigurationError(f"{cls.name} needs an API key")
        build: Callable[..., Self] = cls
        return build(api_key) if base_url is None else build(api_key, base_url)

    def secrets(self) -> Collection[str]:
        """The credentials this provider holds, removed from any text an error carries.

        The default holds none; a provider with an API key returns it (and any form of it
        that is sent, such as a Basic token).
        """
        return ()

    # --- requests -------------------------------------------------------------------------
    @abc.abstractmethod
    def status_request(self, job_id: str) -> ApiRequest:
        """The request that returns the job's status.

        Check ``job_id`` with :func:`fastwait.providers.require_job_id` before putting it in a
        URL: the client calls this before its first poll, so a malformed id fails at once.
        """

    def submit_request(
        self, file_name: str | None, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """The request that submits a job (default: :class:`UnsupportedOperationError`).

        ``file_name`` is the name of the caller's file, or None when :meth:`fastwait.Client.submit`
        was given none (a JSON submit); ``options`` are the caller's keyword options;
        ``callback_url`` is where the API should call back (send it, or refuse it with a
        :class:`ConfigurationError`). A multipart request names the file's field in
        ``file_field``; a JSON one sets ``json``.
        """
        raise UnsupportedOperationError(f"the {self.name} API has no submit request here")

    def download_request(self, job_id: str, status: JobStatus | None) -> ApiRequest:
        """The request that streams the output; ``status`` supplies an absolute URL if known.

        Credentials are attached only when the URL is on the API's own origin, so a pre-signed
        storage URL never receives the API key. The default fetches the status'
        ``download_url`` with the headers of :meth:`status_request` when it shares that
        request's origin, and with none otherwise; a status without one is an
        :class:`UnsupportedOperationError`.
        """
        if status is None or not status.download_url or status.id != job_id:
            raise UnsupportedOperationError(
                f"the {self.name} API gives no download URL for this job's status"
            )
        url = status.download_url
        polled = self.status_request(job_id)
        return ApiRequest("GET", url, polled.headers if same_origin(url, polled.url) else {})

    def cancel_request(self, job_id: str) -> ApiRequest:
        """The request that cancels a queued or running job (default: unsupported)."""
        raise UnsupportedOperationError(f"the {self.name} API has no cancel request here")

    def delete_request(self, job_id: str) -> ApiRequest:
        """The request that deletes a finished job and its artifacts (default: unsupported)."""
        raise UnsupportedOperationError(f"the {self.name} API has no delete request here")

    # --- translation (pure) ---------------------------------------------------------------
    @abc.abstractmethod
    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        """Translate a decoded status payload (or webhook body) into a :class:`JobStatus`.

        ``keep_raw`` keeps ``payload`` itself (not a copy) as the status' ``raw``; otherwise
        ``raw`` is empty, so a status that is kept costs only what the model carries.

        Raises :class:`fastwait.exceptions.BadResponseError` naming the field when the payload
        does not match the API's specification.
        """

    def parse_accepted(self, payload: Any) -> JobAccepted:
        """Translate the submit response into a :class:`JobAccepted`.

        The default reads the common answer ``{"id": "..."}`` (a job QUEUED under that id);
        a :class:`BadResponseError` naming ``$.id`` when there is none.
        """
        job_id = payload.get("id") if isinstance(payload, Mapping) else None
        if not isinstance(job_id, str):
            raise BadResponseError(f"{self.name}: expected the job's id as a string @ $.id")
        return JobAccepted(
            id=payload_job_id(job_id, source=self.name, field="$.id"),
            provider=self.name,
            state=JobState.QUEUED,
            raw=payload,
        )

    def parse_submit_answer(self, payload: Any, headers: Mapping[str, str]) -> JobAccepted:
        """Translate the whole submit answer (body and headers) into a :class:`JobAccepted`.

        For APIs whose answer names the job in a header (``Location``, ``Operation-Location``);
        by default the body alone decides, through :meth:`parse_accepted`.
        """
        return self.parse_accepted(payload)

    def parse_error(self, http_status: int, body: bytes, headers: Mapping[str, str]) -> ApiError:
        """Translate an error answer into the matching :class:`ApiError` subclass.

        Never raises: a body that is not the API's error envelope still yields an error
        chosen by ``http_status``. ``Retry-After`` (seconds or HTTP-date) fills ``retry_after``.
        The default chooses the class by status alone (:func:`fastwait.providers.api_error`:
        401, 403, 404, 409, 410, 429, 5xx, ...) and reads a JSON object's ``code`` (or a
        string ``error``) as the code and its ``detail``, ``message``, ``title`` or
        ``error_description`` as the detail, with :meth:`secrets` removed.
        """
        decoded = decode_json(body)
        values: Mapping[str, Any] = decoded if isinstance(decoded, Mapping) else {}
        return api_error(
            http_status,
            _first_text(values, _ERROR_CODE_KEYS),
            _first_text(values, _ERROR_DETAIL_KEYS),
            headers,
            secrets=self.secrets(),
        )
