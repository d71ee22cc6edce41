"""The fake's configuration and the state every route handler shares.

Handlers of the four APIs, the control routes and the webhook scheduler all read one
:class:`FakeState`; nothing in it does I/O, so job creation is testable without a server.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Final

import attrs

from fastwait.exceptions import ConfigurationError
from fastwait.testing import _formats
from fastwait.testing._faults import Faults
from fastwait.testing._job_models import JobModel, ProgressCurve
from fastwait.testing._jobs import (
    PROVIDERS,
    FakeJob,
    ProviderName,
    guid7_hex,
    random_uuid4,
)

__all__ = ["FakeConfig", "FakeState", "check_provider"]


def check_provider(name: str, declared: tuple[str, ...] = ()) -> ProviderName:
    """``name`` as the name of a built-in or ``declared`` API; ConfigurationError otherwise."""
    known = (*PROVIDERS, *declared)
    if name in known:
        return name
    raise ConfigurationError(f"unknown provider {name!r}; expected one of {', '.join(known)}")


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"{attribute.name} must be within [0, 1], got {value!r}")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ConfigurationError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_non_negative(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not value >= 0:
        raise ConfigurationError(f"{attribute.name} must be >= 0 or None, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigurationError(f"{attribute.name} must be >= 1, got {value!r}")


@attrs.frozen
class FakeConfig:
    """Everything about the fake's behaviour that is fixed at construction (see FakeProvider)."""

    api_key: str = "test-key"
    media_token: str | None = None
    jobs: JobModel = attrs.field(factory=JobModel)
    output_ttl: float = attrs.field(default=3600.0, validator=_non_negative)
    compressorapp_retry_after: float | None = attrs.field(
        default=None, validator=_optional_non_negative
    )
    webhook_secret: str | None = None
    webhook_drop_rate: float = attrs.field(default=0.0, validator=_rate)
    webhook_duplicate_rate: float = attrs.field(default=0.0, validator=_rate)
    output_size: int = attrs.field(default=4096, validator=_at_least_one)
    multi_output_pages: int = attrs.field(default=3, validator=_at_least_one)


_DEFAULT_TARGET: Final = {"png": "jpg"}


@attrs.define
class FakeState:
    """Mutable state shared by the fake's routes: jobs, counters, random streams.

    Separate seeded :class:`random.Random` streams for job plans, faults, progress noise and
    webhooks keep, say, the job durations of a seed unchanged when a test adds fault injection.
    ``schedule_webhook`` is set by the provider once its scheduler exists.
    """

    config: FakeConfig
    clock: Callable[[], float]
    faults: Faults
    seed: int | None
    declared: tuple[str, ...] = ()
    """The names of the declared APIs the fake plays, besides the four built-ins."""
    job_rng: random.Random = attrs.field(init=False)
    fault_rng: random.Random = attrs.field(init=False)
    noise_rng: random.Random = attrs.field(init=False)
    webhook_rng: random.Random = attrs.field(init=False)
    jobs: dict[ProviderName, dict[str, FakeJob]] = attrs.field(init=False)
    url: str = ""
    request_count: int = 0
    schedule_webhook: Callable[[FakeJob], None] = lambda job: None

    def __attrs_post_init__(self) -> None:
        base = random.Random(self.seed)
        self.job_rng, self.fault_rng, self.noise_rng, self.webhook_rng = (
            random.Random(base.getrandbits(64)) for _ in range(4)
        )
        self.jobs = {provider: {} for provider in (*PROVIDERS, *self.declared)}

    def check(self, name: str) -> ProviderName:
        """``name`` as one of the APIs this fake plays; ConfigurationError otherwise."""
        return check_provider(name, self.declared)

    def find(self, provider: ProviderName, job_id: str) -> FakeJob | None:
        """The job, deleted ones included (they answer 404 but still count requests)."""
        return self.jobs[provider].get(job_id)

    def new_job(
        self,
        provider: ProviderName,
        *,
        file_name: str,
        input_bytes: int | None = None,
        duration: float | None = None,
        fail: bool | None = None,
        target_format: str | None = None,
        outputs: int | None = None,
        output_file_name: str | None = None,
        owner: str | None = None,
        callback_url: str | None = None,
        queue_time: float | None = None,
        preset: str | None = None,
        model: JobModel | None = None,
        curve: ProgressCurve | None = None,
        fails_at: float | None = None,
    ) -> FakeJob:
        """Create, store and (if it has a callback) schedule the webhook of a job.

        The job is drawn from ``model`` (default: the fake's); a given ``duration``, ``fail``,
        ``queue_time``, ``curve`` or ``fails_at`` replaces that draw (see
        :meth:`JobModel.plan`). An unset ``outputs`` is what the API would produce
        (``multi_output_pages`` for a PDF converted to JPG/PNG, else 1). Convert jobs without a
        ``target_format`` get ``jpg`` (``png`` sources) or ``png``.
        """
        config = self.config
        rng = self.job_rng
        model = config.jobs if model is None else model
        plan = model.plan(
            rng,
            duration=duration,
            fail=fail,
            queue_time=queue_time,
            curve=curve,
            fails_at=fails_at,
        )
        if input_bytes is None:
            input_bytes = rng.randint(100_000, 12_000_000)
        source = _formats.lookup(_formats.split_name(file_name)[1])
        if provider == "convert" and target_format is None:
            target_format = _DEFAULT_TARGET.get(source.ext if source else "", "png")
        if outputs is None:
            target = _formats.lookup(target_format)
            outputs = 1
            if (
                provider == "convert"
                and source is not None
                and target is not None
                and _formats.is_multi_output(source, target)
            ):
                outputs = config.multi_output_pages
        wall = time.time()
        store = self.jobs[provider]
        while True:
            if provider in ("compress", "convert"):
                job_id = guid7_hex(int(wall * 1000), rng)
            elif provider in ("compressorapp", "media"):
                job_id = random_uuid4(rng)
            else:  # a declared API: a dashed UUIDv7, as many modern APIs give
                job_id = str(uuid.UUID(guid7_hex(int(wall * 1000), rng)))
            if job_id not in store:
                break
        now = self.clock()
        job = FakeJob(
            provider=provider,
            id=job_id,
            submitted_at=now,
            started_at=now + plan.queued,
            completes_at=now + plan.ends,
            planned_completion=now + plan.planned_end,
            curve=plan.curve,
            progress_noise=model.progress_noise,
            noise_key=self.noise_rng.getrandbits(64),
            final_state="failed" if plan.fails_at is not None else "succeeded",
            file_name=file_name,
            input_bytes=input_bytes,
            created_wall=wall,
            target_format=target_format,
            outputs=max(1, outputs),
            output_file_name=output_file_name,
            owner=owner,
            callback_url=callback_url,
            preset=preset,
        )
        store[job_id] = job
        if callback_url is not None:
            self.schedule_webhook(job)
        return job
