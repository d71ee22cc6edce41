"""The standalone webhook receiver service: fastwait's receiver, configured from the environment.

It runs :func:`fastwait.receiver.run_receiver`, which verifies each job API's webhook
deliveries, publishes them into a registry — Redis, when ``FASTWAIT_REDIS_URL`` is set, so the
workers that await the jobs (any number of replicas) wake the moment a delivery lands;
otherwise an in-memory registry, and it only logs what arrives — and logs each status in one
line. Everything comes from the environment so that a service manager
(``fastwait-receiver.service``) or a container runtime configures it and no secret appears in
``ps``; ``fastwait receive`` takes the same settings as flags:

=============================  ===========================================================
``FASTWAIT_PROVIDERS``         required: ``compress,convert,compressorapp,media`` (any of),
                               or installed providers' names (``fastwait providers``)
``FASTWAIT_WEBHOOK_SECRET``    ``whsec_...`` secrets, comma-separated (several: rotation;
                               ``fastwait receive`` reads it the same way)
``FASTWAIT_WEBHOOK_PUBLIC_KEYS``  ``whpk_...`` Ed25519 keys, comma-separated
``FASTWAIT_CALLBACK_SECRET``   secret of per-job callback tokens (default: the first
                               webhook secret, as ``Client(webhook_secret=...)`` derives them)
``FASTWAIT_BASE_URL``          ``URL`` or ``NAME=URL,...``: resolves relative download URLs
                               (required for media)
``FASTWAIT_REDIS_URL``         publish into this Redis (``redis://host:6379/0``)
``FASTWAIT_RECEIVER_HOST``     address to bind (default ``127.0.0.1``: behind a reverse proxy)
``FASTWAIT_RECEIVER_PORT``     port (default ``8080``; ``0`` picks a free one)
``FASTWAIT_MAX_BODY_BYTES``    largest delivery accepted (default 1 MiB)
``FASTWAIT_HEADER_TIMEOUT``    seconds a connection may take to send a request head, or stay
                               idle between requests (default 15)
``FASTWAIT_BODY_TIMEOUT``      seconds to receive a whole body, else 408 (default 30)
``FASTWAIT_MAX_CONNECTIONS``   connections served at once; more get 503 (default 512)
``FASTWAIT_LOG_LEVEL``         ``DEBUG``, ``INFO`` (default), ``WARNING`` or ``ERROR``
=============================  ===========================================================

A misconfiguration exits with status 2 and one line naming the variable (or, for a Redis URL
that is not one or a missing ``redis`` package, saying so), which the service manager does not
restart; SIGTERM or SIGINT stops it cleanly with status 0. Run it with
``python receiver/service.py`` from a checkout in an environment where fastwait is installed
(see ``receiver/README.md``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping

import attrs

from fastwait.exceptions import ConfigurationError
from fastwait.providers import Provider, installed_providers
from fastwait.receiver import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    receiving_providers,
    run_receiver,
)
from fastwait.webhooks import CallbackTokens, StandardWebhookVerifier

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@attrs.frozen
class ServiceSettings:
    """The service's configuration, read and checked by :meth:`from_env`."""

    providers: tuple[Provider, ...]
    verifier: StandardWebhookVerifier | None = attrs.field(repr=False)
    callback_tokens: CallbackTokens | None = attrs.field(repr=False)
    redis_url: str | None = attrs.field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceSettings:
        """Settings from ``env``; ConfigurationError naming the variable that is wrong."""
        names = _list(env, "FASTWAIT_PROVIDERS")
        if not names:
            known = ",".join(sorted({provider.name for provider in installed_providers()}))
            raise ConfigurationError(f"set FASTWAIT_PROVIDERS (any of {known})")
        try:
            providers = receiving_providers(names, _list(env, "FASTWAIT_BASE_URL"))
        except ConfigurationError as exc:
            raise ConfigurationError(f"FASTWAIT_PROVIDERS / FASTWAIT_BASE_URL: {exc}") from None
        secrets = _list(env, "FASTWAIT_WEBHOOK_SECRET")
        public_keys = _list(env, "FASTWAIT_WEBHOOK_PUBLIC_KEYS")
        try:
            verifier = (
                StandardWebhookVerifier(secrets, public_keys) if secrets or public_keys else None
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"FASTWAIT_WEBHOOK_SECRET: {exc}") from None
        token_secret = env.get("FASTWAIT_CALLBACK_SECRET") or (secrets[0] if secrets else None)
        try:
            tokens = None if token_secret is None else CallbackTokens(token_secret)
        except ConfigurationError as exc:
            raise ConfigurationError(f"FASTWAIT_CALLBACK_SECRET: {exc}") from None
        if verifier is None and tokens is None:
            raise ConfigurationError(
                "set FASTWAIT_WEBHOOK_SECRET, FASTWAIT_WEBHOOK_PUBLIC_KEYS or "
                "FASTWAIT_CALLBACK_SECRET: without one, no delivery can be trusted"
            )
        level = env.get("FASTWAIT_LOG_LEVEL", "INFO").upper()
        if level not in _LOG_LEVELS:
            raise ConfigurationError(f"FASTWAIT_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        return cls(
            providers=tuple(providers),
            verifier=verifier,
            callback_tokens=tokens,
            redis_url=env.get("FASTWAIT_REDIS_URL") or None,
            host=env.get("FASTWAIT_RECEIVER_HOST") or "127.0.0.1",
            port=_int(env, "FASTWAIT_RECEIVER_PORT", 8080, 0, 65535),
            max_body_bytes=_int(env, "FASTWAIT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 1 << 30),
            header_timeout=_seconds(env, "FASTWAIT_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
            body_timeout=_seconds(env, "FASTWAIT_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT),
            max_connections=_int(
                env, "FASTWAIT_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 1, 1_000_000
            ),
            log_level=level,
        )


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigurationError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86_400:
        raise ConfigurationError(f"{name} must be a number of seconds above 0, at most 86400")
    return value


def main() -> int:
    """Read the environment, then serve; exit status 2 with one line when misconfigured."""
    try:
        settings = ServiceSettings.from_env(os.environ)
    except ConfigurationError as exc:
        print(f"fastwait-receiver: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(
            run_receiver(
                settings.providers,
                verifier=settings.verifier,
                callback_tokens=settings.callback_tokens,
                redis=settings.redis_url,
                host=settings.host,
                port=settings.port,
                max_body_bytes=settings.max_body_bytes,
                body_timeout=settings.body_timeout,
                header_timeout=settings.header_timeout,
                max_connections=settings.max_connections,
            )
        )
    except ConfigurationError as exc:  # found as the registry is made: the Redis URL, say
        print(f"fastwait-receiver: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is taken, the address is not ours, ...
        print(f"fastwait-receiver: error: cannot serve: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
