"""The receiver's decisions, apart from HTTP: is this delivery authentic, new, and a status?

Every step is cheap and runs in order, so a request is refused by the cheapest test it fails:
the signature (or callback token) is checked over the raw bytes before anything parses them; a
delivery already applied is acknowledged before its body is decoded; only then is the body
decoded as UTF-8 JSON and translated by the provider's ``parse_status``, the same
translation the poller uses. The outcome is published to the registry,
so ``await registry.wait(key)`` cannot tell a webhook from a poll.

A refusal is a :class:`Rejection` carrying the HTTP status and a short fixed error code; neither
ever quotes the request, a key, or an exception's message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, NoReturn

import attrs

from fastwait._models import JobStatus
from fastwait.events import WebhookAccepted, emit
from fastwait.exceptions import BadResponseError, ConfigurationError, WebhookVerificationError
from fastwait.providers import Provider
from fastwait.receiver._deliveries import Delivery, RecentDeliveries
from fastwait.registry import Registry
from fastwait.webhooks import (
    CallbackBindings,
    CallbackClaim,
    CallbackTokens,
    StandardWebhookVerifier,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Rejection", "WebhookReceiver"]

log = logging.getLogger("fastwait.receiver")

DEFAULT_MAX_BODY_BYTES: Final = 1 << 20
"""Largest delivery read, in bytes: a status is a few hundred, a generous sender's a few kB."""


class Rejection(Exception):
    """A refused request: ``status`` is the HTTP status, ``error`` a short fixed code."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error


def _reject_constant(name: str) -> NoReturn:
    # NaN and Infinity are not JSON (RFC 8259), though Python's decoder accepts them.
    raise ValueError(f"{name} is not JSON")


_JSON: Final = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with any keyword builds a new decoder on every call."""


class WebhookReceiver:
    """Turns authentic deliveries into published statuses; one per mounted receiver.

    ``providers`` are keyed by their ``name`` (the route segment). At least one of ``verifier``
    (signed ``/hooks/*``) and ``callback_tokens`` (``/callbacks/*``) must be given.
    ``bindings`` may be shared with the client that binds nonces after submitting.
    ``keep_raw`` keeps each body's decoded JSON as the status' ``raw`` (empty by default).
    Raises :class:`ConfigurationError` for an unusable configuration. Use it from one loop.
    """

    __slots__ = (
        "_bindings",
        "_deliveries",
        "_keep_raw",
        "_on_event",
        "_providers",
        "_registry",
        "_tokens",
        "_verifier",
        "max_body_bytes",
    )

    def __init__(
        self,
        registry: Registry,
        providers: Iterable[Provider],
        *,
        verifier: StandardWebhookVerifier | None = None,
        callback_tokens: CallbackTokens | None = None,
        bindings: CallbackBindings | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        dedupe_capacity: int = 100_000,
        keep_raw: bool = False,
    ) -> None:
        by_name: dict[str, Provider] = {}
        for provider in providers:
            if provider.name in by_name:
                raise ConfigurationError(f"provider {provider.name!r} is given twice")
            by_name[provider.name] = provider
        if not by_name:
            raise ConfigurationError("give at least one provider")
        if verifier is None and callback_tokens is None:
            raise ConfigurationError("give a webhook verifier, callback tokens, or both")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ConfigurationError("max_body_bytes must be an int")
        if max_body_bytes < 1:
            raise ConfigurationError("max_body_bytes must be at least 1")
        self._registry = registry
        self._providers: Mapping[str, Provider] = MappingProxyType(by_name)
        self._verifier = verifier
        self._tokens = callback_tokens
        self._bindings = CallbackBindings() if bindings is None else bindings
        self._deliveries = RecentDeliveries(dedupe_capacity)
        self._keep_raw = keep_raw
        self._on_event = registry.on_event
        self.max_body_bytes = max_body_bytes
        """Largest body read, in bytes; a larger one is refused unread (413)."""

    def __repr__(self) -> str:
        return (
            f"WebhookReceiver(providers={sorted(self._providers)}, "
            f"signed={self.accepts_signed}, callbacks={self.accepts_callbacks})"
        )

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def providers(self) -> Mapping[str, Provider]:
        """The configured providers by route name (read-only)."""
        return self._providers

    @property
    def bindings(self) -> CallbackBindings:
        """Nonce-to-job bindings; share them with the client that submits the jobs."""
        return self._bindings

    @property
    def accepts_signed(self) -> bool:
        """True when a verifier is configured, so ``/hooks/{provider}`` is served."""
        return self._verifier is not None

    @property
    def accepts_callbacks(self) -> bool:
        """True when callback tokens are configured, so ``/callbacks/{token}`` is served."""
        return self._tokens is not None

    # --- steps before the body is read ----------------------------------------------------
    def provider(self, name: str) -> Provider:
        """The provider routed as ``name``; 404 if none is configured under it."""
        provider = self._providers.get(name)
        if provider is None:
            raise Rejection(404, "unknown_provider")
        return provider

    def claim(self, token: str) -> tuple[CallbackClaim, Provider]:
        """What an authentic callback token stands for; 401 if forged, 404 if not ours to serve."""
        if self._tokens is None:
            raise Rejection(404, "not_found")
        try:
            claim = self._tokens.verify(token)
        except WebhookVerificationError as exc:
            log.info("refused a callback: %s", type(exc).__name__)
            raise Rejection(401, "invalid_token") from None
        return claim, self.provider(claim.provider)

    # --- deliveries -----------------------------------------------------------------------
    async def accept_signed(
        self, provider: Provider, headers: Mapping[str, str], body: bytes
    ) -> str:
        """Apply a Standard Webhooks delivery: ``"accepted"`` or ``"duplicate"``.

        Raises :class:`Rejection`: 401 unverified, 409 while the same delivery is in flight,
        400 not a status, 503 when the registry failed (the sender should retry).
        """
        if self._verifier is None:
            raise Rejection(404, "not_found")
        try:
            msg_id = self._verifier.verify(headers, body)
        except WebhookVerificationError as exc:
            log.info("refused a %s webhook: %s", provider.name, type(exc).__name__)
            raise Rejection(401, "invalid_signature") from None
        key = (provider.name, msg_id)
        seen = self._deliveries.begin(key)
        if seen is Delivery.APPLIED:
            log.debug("%s webhook %s already applied", provider.name, msg_id)
            if self._on_event is not None:
                emit(self._on_event, WebhookAccepted(provider.name, None, duplicate=True))
            return "duplicate"
        if seen is Delivery.IN_FLIGHT:
            raise Rejection(409, "delivery_in_progress")
        applied = False
        try:
            status = self._parse(provider, body)
            if not status.id:
                log.info("refused a %s webhook: it names no job", provider.name)
                raise Rejection(400, "no_job_id")
            lag = None if self._on_event is None else _stamp_age(headers)
            await self._publish(status, msg_id, lag)
            applied = True
        finally:
            self._deliveries.finish(key, applied=applied)
        return "accepted"

    async def accept_callback(self, claim: CallbackClaim, provider: Provider, body: bytes) -> str:
        """Apply a callback whose token ``claim`` was verified: ``"accepted"``.

        The status must be for the token's job: its id, or the job its nonce is bound to (the
        first authentic callback binds an unbound nonce); a status that names no job is taken
        to be the token's, when the token names one. Raises :class:`Rejection`: 400 not a
        status, 403 a status of another job, 503 when the registry failed.
        """
        status = self._parse(provider, body)
        if not status.id:  # an API whose bodies do not name the job: the token does
            job_id = (
                claim.reference
                if claim.is_job_id
                else self._bindings.job_id(provider.name, claim.reference)
            )
            if job_id is None:
                log.info(
                    "refused a %s callback: neither it nor its token names a job", provider.name
                )
                raise Rejection(400, "no_job_id")
            status = attrs.evolve(status, id=job_id)
        if claim.is_job_id:
            matches = status.id == claim.reference
        else:
            matches = self._bindings.bind(provider.name, claim.reference, status.id)
        if not matches:
            log.info("refused a %s callback: its token is for another job", provider.name)
            raise Rejection(403, "job_mismatch")
        await self._publish(status, None)
        return "accepted"

    def _parse(self, provider: Provider, body: bytes) -> JobStatus:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejection(400, "invalid_utf8") from None
        try:
            payload = _JSON.decode(text)
        except (ValueError, RecursionError):
            raise Rejection(400, "invalid_json") from None
        try:
            return provider.parse_status(payload, keep_raw=self._keep_raw)
        except BadResponseError:
            log.info("refused a %s delivery: not a job status", provider.name)
            raise Rejection(400, "invalid_status") from None
        except (ValueError, TypeError, RecursionError) as exc:
            # The provider contract promises BadResponseError; an authentic but odd body must
            # still not become a 500, and the slip is worth a warning (type only: no body).
            log.warning(
                "%s parse_status raised %s instead of BadResponseError",
                provider.name,
                type(exc).__name__,
            )
            raise Rejection(400, "invalid_status") from None

    async def _publish(
        self, status: JobStatus, webhook_id: str | None, lag: float | None = None
    ) -> None:
        """Publish an authentic status (``webhook_id`` None: a callback); 503 if that fails.

        ``lag`` is the seconds since the sender stamped it, for the registry's events.
        """
        try:
            resolved = await self._registry.publish(status, source="webhook", lag=lag)
        except Exception:
            log.exception("publishing a %s status failed", status.provider)
            raise Rejection(503, "unavailable") from None
        if self._on_event is not None:
            emit(self._on_event, WebhookAccepted(status.provider, status.id, duplicate=False))
        if log.isEnabledFor(logging.DEBUG):  # the arguments cost more than the call
            via = "callback" if webhook_id is None else f"webhook {webhook_id}"
            self._log_applied(status, via, resolved)

    @staticmethod
    def _log_applied(status: JobStatus, via: str, resolved: bool) -> None:
        # DEBUG: run_receiver (fastwait receive, receiver/service.py) says each status once, at
        # INFO, from its registry; this line adds the delivery's details.
        log.debug(
            "%s %s job %s is %s%s",
            via,
            status.provider,
            status.id,
            status.state.name,
            " (resolved)" if resolved else "",
        )


def _stamp_age(headers: Mapping[str, str]) -> float | None:
    """Seconds since the sender stamped a verified delivery (its ``webhook-timestamp``)."""
    stamp = headers.get("webhook-timestamp")
    return max(time.time() - int(stamp), 0.0) if stamp is not None and stamp.isdigit() else None
