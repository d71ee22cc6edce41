"""FakeProvider: the four job APIs on one real loopback HTTP server.

The provider owns its aiohttp server, the client session its webhooks go out on and the webhook
tasks; it is an async context manager, and :meth:`FakeProvider.aclose` stops all of them.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, Self

import aiohttp
from aiohttp import web

from fastwait.exceptions import ConfigurationError
from fastwait.providers import ApiSpec, DeclaredProvider, load_spec
from fastwait.testing._compressorapp import CompressorAppApi
from fastwait.testing._control import PREFIX, ControlApi
from fastwait.testing._declared import DeclaredApi
from fastwait.testing._faults import Faults
from fastwait.testing._http import callback_url_is_valid, dumps
from fastwait.testing._job_models import Durations, JobModel, ProgressCurve
from fastwait.testing._jobs import FakeJob, ProviderName
from fastwait.testing._media import MediaApi
from fastwait.testing._state import FakeConfig, FakeState
from fastwait.testing._toolsfast import ToolsFastApi
from fastwait.testing._webhooks import WebhookDelivery, WebhookScheduler
from fastwait.webhooks._signatures import StandardWebhookSigner

__all__ = ["FakeProvider"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _JobApi(Protocol):
    def add_routes(self, app: web.Application) -> None: ...

    def status_payload(self, job: FakeJob, now: float) -> dict[str, Any]: ...


def _request_counter(state: FakeState) -> Any:
    @web.middleware
    async def count_requests(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX):
            state.request_count += 1
        return await handler(request)

    return count_requests


class FakeProvider:
    """A faithful fake of tools.fast compress and convert, compressor.app and the media
    optimizer, served over real HTTP on ``host:port`` (127.0.0.1, a free port by default).

    Jobs compute their state from ``clock`` when asked, so thousands cost no tasks. How they
    behave is a :class:`~fastwait.testing.JobModel` (durations, a queued phase, progress curves
    and noise, failures part-way through), given as ``job_model``; the shortcuts ``durations``
    (seconds, or a callable drawing from a :class:`random.Random`; default 1), ``queue_time``
    (default 0), ``failure_rate`` (default 0) and ``progress_noise`` (± points, default 5) build
    a straight-line model instead and cannot be combined with ``job_model``. ``seed`` makes
    ids, plans, noise and fault draws repeatable (ids still embed the wall-clock time).

    Authentication: tools.fast wants ``X-Fast-Api-Key: <api_key>``; compressor.app Basic auth
    with ``api_key`` as the username (any password) or ``Bearer <api_key>``; the media API
    ``Bearer <media_token>``, only when ``media_token`` is set.

    ``specs`` are declared APIs to play besides the four (:class:`~fastwait.providers.ApiSpec`
    values or paths of TOML spec files), each under ``base_url(spec.name)`` with ``api_key``
    as its credential, the same job model, faults and webhooks; ``declared_retry_after``
    seconds are sent as ``Retry-After`` on their answers about unfinished jobs.

    Raises :class:`~fastwait.exceptions.ConfigurationError` for invalid settings (including a
    ``webhook_secret`` the Standard Webhooks signer rejects).
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        media_token: str | None = None,
        job_model: JobModel | None = None,
        durations: Durations | None = None,
        queue_time: float | None = None,
        failure_rate: float | None = None,
        progress_noise: float | None = None,
        output_ttl: float = 3600.0,
        compressorapp_retry_after: float | None = None,
        webhook_secret: str | None = None,
        webhook_drop_rate: float = 0.0,
        webhook_duplicate_rate: float = 0.0,
        output_size: int = 4096,
        multi_output_pages: int = 3,
        seed: int | None = None,
        specs: Iterable[ApiSpec | str | os.PathLike[str]] = (),
        declared_retry_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        shortcuts = (durations, queue_time, failure_rate, progress_noise)
        if job_model is None:
            job_model = JobModel(
                durations=1.0 if durations is None else durations,
                queue_time=queue_time or 0.0,
                failure_rate=failure_rate or 0.0,
                progress_noise=5.0 if progress_noise is None else progress_noise,
            )
        elif any(shortcut is not None for shortcut in shortcuts):
            raise ConfigurationError(
                "give either job_model or durations/queue_time/failure_rate/progress_noise"
            )
        config = FakeConfig(
            api_key=api_key,
            media_token=media_token,
            jobs=job_model,
            output_ttl=output_ttl,
            compressorapp_retry_after=compressorapp_retry_after,
            webhook_secret=webhook_secret,
            webhook_drop_rate=webhook_drop_rate,
            webhook_duplicate_rate=webhook_duplicate_rate,
            output_size=output_size,
            multi_output_pages=multi_output_pages,
        )
        signer = StandardWebhookSigner(webhook_secret) if webhook_secret is not None else None
        declared = [spec if isinstance(spec, ApiSpec) else load_spec(spec) for spec in specs]
        names = [spec.name for spec in declared]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"two specs have one name: {', '.join(sorted(names))}")
        self._state = FakeState(config, clock, Faults(), seed, tuple(names))
        self._apis: dict[ProviderName, _JobApi] = {
            "compress": ToolsFastApi(self._state, "compress"),
            "convert": ToolsFastApi(self._state, "convert"),
            "compressorapp": CompressorAppApi(self._state),
            "media": MediaApi(self._state),
        }
        unsigned = {"media"}
        for spec in declared:
            self._apis[spec.name] = DeclaredApi(self._state, spec, declared_retry_after)
            if not spec.signs_webhooks:
                unsigned.add(spec.name)
        self._webhooks = WebhookScheduler(
            clock=clock,
            render=self._render_webhook,
            rng=self._state.webhook_rng,
            signer=signer,
            unsigned=frozenset(unsigned),
            drop_rate=webhook_drop_rate,
            duplicate_rate=webhook_duplicate_rate,
        )
        self._state.schedule_webhook = self._webhooks.schedule
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = getattr(self, "_state", None)  # None: the constructor refused its arguments
        closed = getattr(self, "_closed", False)
        where = (state.url if state else "") or ("closed" if closed else "not started")
        return f"<FakeProvider {where}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the server and start webhook delivery. A provider starts once."""
        if self._runner is not None or self._closed:
            raise RuntimeError("a FakeProvider can be started only once")
        app = web.Application(middlewares=[_request_counter(self._state)])
        for api in self._apis.values():
            api.add_routes(app)
        ControlApi(self._state, lambda: (self._webhooks.sent, self._webhooks.dropped)).add_routes(
            app
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        try:
            await self._runner.setup()
            await web.TCPSite(self._runner, self._host, self._port).start()
            host, port = self._runner.addresses[0][:2]
            self._state.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            self._session = aiohttp.ClientSession()
            self._webhooks.start(self._session)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the server, the webhook tasks and the session; idempotent."""
        self._closed = True
        runner, self._runner = self._runner, None
        session, self._session = self._session, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            await self._webhooks.aclose()
            if session is not None:
                await session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_runner", None) is not None:
            _warn(f"unclosed {self!r}: use 'async with' or aclose()", ResourceWarning, source=self)

    # -- addresses ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        if not self._state.url:
            raise RuntimeError("the FakeProvider is not started; use 'async with FakeProvider()'")
        return self._state.url

    def base_url(self, name: str) -> str:
        """The API root a client of provider ``name`` is configured with."""
        provider = self._state.check(name)
        if provider in self._state.declared:
            return f"{self.url}/{provider}"
        return f"{self.url}/1.0" if provider == "compressorapp" else self.url

    # -- jobs -----------------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        *,
        duration: float | None = None,
        fail: bool | None = None,
        file_name: str = "photo.jpg",
        target_format: str | None = None,
        outputs: int | None = None,
        output_file_name: str | None = None,
        owner: str | None = None,
        callback_url: str | None = None,
        queue_time: float | None = None,
        model: JobModel | None = None,
        curve: ProgressCurve | None = None,
        terminal_fields: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a job directly, as if it had been submitted now; returns its id.

        The job is drawn from ``model`` (default: the provider's job model); a given
        ``duration`` (seconds from submission to the end, queue included), ``fail``,
        ``queue_time`` (seconds queued on top) or ``curve`` replaces its draw. Unset ``outputs``
        is what the API would produce. ``output_file_name`` replaces the output name in status
        payloads and ``Content-Disposition``; an ``owner`` makes the job another user's (403
        ``jobs.forbidden`` on tools.fast, 404 on compressor.app). ``terminal_fields`` are
        top-level fields laid over the job's status payload (and webhook) once it has ended:
        what a real API may send that a client must survive, e.g. ``{"error": {"code":
        "processing.failed", "detail": "bad key <the key>"}}`` or a metric of ``inf``.
        """
        provider = self._state.check(name)
        if callback_url is not None and not callback_url_is_valid(callback_url):
            raise ConfigurationError(
                f"callback_url must be an absolute http(s) URL: {callback_url}"
            )
        if outputs is not None and outputs < 1:
            raise ConfigurationError(f"outputs must be >= 1, got {outputs}")
        job = self._state.new_job(
            provider,
            file_name=file_name,
            duration=duration,
            fail=fail,
            target_format=target_format,
            outputs=outputs,
            output_file_name=output_file_name,
            owner=owner,
            callback_url=callback_url,
            queue_time=queue_time,
            model=model,
            curve=curve,
        )
        if terminal_fields is not None:
            job.terminal_fields = dict(terminal_fields)
        return job.id

    def job(self, name: str, job_id: str) -> FakeJob:
        """The live record of a job (deleted ones included); ``KeyError`` if it never existed."""
        found = self._state.find(self._state.check(name), job_id)
        if found is None:
            raise KeyError(f"no {name} job {job_id!r}")
        return found

    def jobs(self, name: str | None = None) -> list[FakeJob]:
        """All jobs of provider ``name``, or of every provider, in creation order."""
        providers = [self._state.check(name)] if name is not None else list(self._state.jobs)
        return [job for p in providers for job in self._state.jobs[p].values()]

    def declared_provider(self, name: str) -> DeclaredProvider:
        """A client's provider of the declared API ``name``, pointed at this fake with its key:
        the same spec drives both sides."""
        api = self._apis.get(self._state.check(name))
        if not isinstance(api, DeclaredApi):
            raise ConfigurationError(f"{name} is a built-in API, not a declared one")
        return DeclaredProvider(
            api.spec, api_key=self._state.config.api_key, base_url=self.base_url(name)
        )

    def expire(self, name: str, job_id: str) -> None:
        """Clean the job's output up now: downloads answer 410 from here on."""
        self.job(name, job_id).expired = True

    def corrupt_output(self, name: str, job_id: str) -> None:
        """Serve the job's output with one byte changed, so it no longer matches its sha1."""
        self.job(name, job_id).corrupted = True

    @property
    def job_model(self) -> JobModel:
        """How this fake's jobs behave unless a job was given a model of its own."""
        return self._state.config.jobs

    def now(self) -> float:
        """The fake's clock, in which all job times are expressed."""
        return self._state.clock()

    # -- observation ----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The live fault knobs; change them at any time."""
        return self._state.faults

    @property
    def request_count(self) -> int:
        """Every HTTP request the APIs received (``/_fake/`` control routes excluded)."""
        return self._state.request_count

    @property
    def webhooks_sent(self) -> int:
        """Webhook POSTs attempted, duplicates included, drops excluded."""
        return self._webhooks.sent

    @property
    def webhooks_dropped(self) -> int:
        """Webhooks deliberately never sent (``webhook_drop_rate``)."""
        return self._webhooks.dropped

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """``(provider, job_id, url, status or exception name)`` of each POST, in order."""
        return list(self._webhooks.deliveries)

    async def flush_webhooks(self) -> None:
        """Send every webhook that is due by the clock now and wait until all have been sent.

        Lets tests await deliveries instead of sleeping, and drives delivery when ``clock`` is
        a hand-advanced test clock.
        """
        await self._webhooks.flush()

    def _render_webhook(self, job: FakeJob, now: float) -> bytes:
        return dumps(self._apis[job.provider].status_payload(job, now))
