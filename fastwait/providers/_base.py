"""The sans-I/O interface every job API implements.

A provider only turns intentions into :class:`ApiRequest` values and decoded payloads into models
or exceptions; it never opens a socket. The :class:`fastwait.Client` executes the requests, the
poller and the webhook receiver share :meth:`Provider.parse_status`, and tests exercise every
translation with plain dicts.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import attrs

from fastwait._models import JobAccepted, JobStatus
from fastwait.exceptions import ApiError, ConfigurationError

__all__ = ["ApiRequest", "Provider"]


@attrs.frozen
class ApiRequest:
    """One HTTP request to make, fully described.

    ``fields`` are multipart text fields; when ``file_field`` is set the client sends a multipart
    body with the caller's file under that field name. ``headers`` carry authentication, so an
    ``ApiRequest`` is never logged whole (its repr hides header values).
    """

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=lambda h: f"<{len(h)} headers>")
    fields: Mapping[str, str] = attrs.field(factory=dict)
    file_field: str | None = None


class Provider(abc.ABC):
    """One remote job API: how to address it and how to read what it says.

    ``name`` is the name the CLI, the registry keys and the webhook routes use (``compress``,
    ``convert``, ``compressorapp``, ``media``). ``reports_progress`` says whether status
    payloads carry a completion percentage the poller can extrapolate from.
    Subclasses must never put credentials in ``repr`` or in exception messages.
    """

    name: ClassVar[str]
    reports_progress: ClassVar[bool] = False
    signs_webhooks: ClassVar[bool] = True
    """False for APIs whose webhooks carry no signature: they get per-job callback tokens."""
    credential_headers: ClassVar[frozenset[str]] = frozenset({"Authorization"})
    """The request headers that carry this API's credential. They go only to the API's own
    origin (that of ``base_url``): the transport drops them from a request, or a redirect
    hop, addressed anywhere else."""

    base_url: str

    @classmethod
    def from_settings(cls, api_key: str | None, base_url: str | None) -> Self:
        """This provider, built from the two settings a command or a service has for it.

        ``api_key`` is its credential, ``base_url`` its API root (None: the API's real host).
        ``fastwait wait`` and the webhook receiver build every provider in :data:`PROVIDERS
        <fastwait.providers.PROVIDERS>` this way, by name; this default calls the constructor
        as ``(api_key)`` or ``(api_key, base_url)``, so a provider whose constructor differs
        overrides it. Raises :class:`ConfigurationError` when a setting the API needs is
        missing or invalid.
        """
        if not api_key:
            raise ConfigurationError(f"{cls.name} needs an API key")
        build: Callable[..., Self] = cls
        return build(api_key) if base_url is None else build(api_key, base_url)

    # --- requests -------------------------------------------------------------------------
    @abc.abstractmethod
    def status_request(self, job_id: str) -> ApiRequest:
        """The request that returns the job's status."""

    @abc.abstractmethod
    def submit_request(
        self, file_name: str, options: Mapping[str, str], callback_url: str | None = None
    ) -> ApiRequest:
        """The multipart request that submits a file (raises UnsupportedOperationError if none)."""

    @abc.abstractmethod
    def download_request(self, job_id: str, status: JobStatus | None) -> ApiRequest:
        """The request that streams the output; ``status`` supplies an absolute URL if known.

        Credentials are attached only when the URL is on the API's own origin, so a pre-signed
        storage URL never receives the API key.
        """

    @abc.abstractmethod
    def cancel_request(self, job_id: str) -> ApiRequest:
        """The request that cancels a queued or running job."""

    @abc.abstractmethod
    def delete_request(self, job_id: str) -> ApiRequest:
        """The request that deletes a finished job and its artifacts."""

    def may_own_job(self, job_id: str) -> bool:
        """False when ``job_id`` cannot be one of this API's job ids, True when it can or
        when the API's documents do not say (the default).

        The receiver refuses a delivery whose job fails this on the route it came by: the
        signature does not cover the route, so a status replayed to another provider's route
        must not be applied there where the ids can tell.
        """
        return True

    # --- translation (pure) ---------------------------------------------------------------
    @abc.abstractmethod
    def parse_status(self, payload: Any, *, keep_raw: bool = False) -> JobStatus:
        """Translate a decoded status payload (or webhook body) into a :class:`JobStatus`.

        ``keep_raw`` keeps ``payload`` itself (not a copy) as the status' ``raw``; otherwise
        ``raw`` is empty, so a status that is kept costs only what the model carries.

        Raises :class:`fastwait.exceptions.BadResponseError` naming the field when the payload
        does not match the API's specification.
        """

    @abc.abstractmethod
    def parse_accepted(self, payload: Any) -> JobAccepted:
        """Translate the submit response into a :class:`JobAccepted`."""

    @abc.abstractmethod
    def parse_error(self, http_status: int, body: bytes, headers: Mapping[str, str]) -> ApiError:
        """Translate an error answer into the matching :class:`ApiError` subclass.

        Never raises: a body that is not the API's error envelope still yields an error
        chosen by ``http_status``. ``Retry-After`` (seconds or HTTP-date) fills ``retry_after``.
        """
