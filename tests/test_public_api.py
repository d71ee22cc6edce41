"""The public surface is small and deliberate: every exported name is listed and importable."""

from __future__ import annotations

import importlib

import pytest

import fastwait

EXPECTED = {
    "CallbackBindings",
    "CallbackClaim",
    "CallbackTokens",
    "Client",
    "FastwaitError",
    "JobAccepted",
    "JobCanceled",
    "JobFailed",
    "JobResult",
    "JobState",
    "JobStatus",
    "MemoryResultStore",
    "OutputInfo",
    "PollPolicy",
    "PollStats",
    "QueueInfo",
    "RedisResultStore",
    "Registry",
    "Resolution",
    "ResultStore",
    "SQLiteResultStore",
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "WaitTimeout",
}


def test_fastwait_exports_exactly_the_public_names() -> None:
    assert set(fastwait.__all__) == EXPECTED
    assert fastwait.__all__ == sorted(fastwait.__all__)


@pytest.mark.parametrize(
    "module",
    [
        "fastwait",
        "fastwait.exceptions",
        "fastwait.providers",
        "fastwait.testing",
        "fastwait.webhooks",
    ],
)
def test_every_listed_name_exists(module: str) -> None:
    imported = importlib.import_module(module)
    for name in imported.__all__:
        assert hasattr(imported, name), f"{module}.{name}"


def test_every_exception_derives_from_fastwait_error() -> None:
    exceptions = importlib.import_module("fastwait.exceptions")
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), fastwait.FastwaitError), name
