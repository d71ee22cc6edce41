"""The public surface is small and deliberate: every exported name is listed and importable."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import typing
from collections.abc import Iterator

import pytest

import fastwait

EXCEPTIONS = {
    "ApiError",
    "AuthenticationError",
    "BadCallbackToken",
    "BadResponseError",
    "ChecksumMismatchError",
    "ConfigurationError",
    "ConflictError",
    "DownloadError",
    "ExpiredError",
    "FastwaitError",
    "ForbiddenError",
    "InvalidRequestError",
    "JobCanceled",
    "JobError",
    "JobFailed",
    "MalformedHeader",
    "NotFoundError",
    "NotReadyError",
    "RateLimitedError",
    "ServerError",
    "SignatureMismatch",
    "SpecError",
    "TimestampOutOfTolerance",
    "TransportError",
    "UnsupportedOperationError",
    "WaitTimeout",
    "WebhookVerificationError",
}

EXPECTED = EXCEPTIONS | {
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
    "SyncClient",
    "WaitTimeout",
}


def test_fastwait_exports_exactly_the_public_names() -> None:
    assert set(fastwait.__all__) == EXPECTED
    assert fastwait.__all__ == sorted(fastwait.__all__)


def test_every_error_class_is_importable_from_the_package() -> None:
    exceptions = importlib.import_module("fastwait.exceptions")
    assert set(exceptions.__all__) == EXCEPTIONS
    for name in exceptions.__all__:
        assert getattr(fastwait, name) is getattr(exceptions, name), name


@pytest.mark.parametrize(
    "module",
    [
        "fastwait",
        "fastwait.exceptions",
        "fastwait.events",
        "fastwait.providers",
        "fastwait.testing",
        "fastwait.webhooks",
        "fastwait.polling",
        "fastwait.registry",
        "fastwait.receiver",
        "fastwait.downloads",
        "fastwait.cli",
    ],
)
def test_every_listed_name_exists(module: str) -> None:
    imported = importlib.import_module(module)
    for name in imported.__all__:
        assert hasattr(imported, name), f"{module}.{name}"


def test_every_error_class_fastwait_defines_is_exported_and_drawn_in_the_tree() -> None:
    for name in PUBLIC_MODULES:
        importlib.import_module(name)
    defined, unseen = set(), [fastwait.FastwaitError]
    while unseen:
        cls = unseen.pop()
        defined.add(cls)
        unseen += cls.__subclasses__()
    exceptions = importlib.import_module("fastwait.exceptions")
    tree = exceptions.__doc__ or ""
    missing = [
        cls.__qualname__
        for cls in defined
        if cls.__module__.startswith("fastwait.")
        and not (
            getattr(fastwait, cls.__name__, None) is cls
            and getattr(exceptions, cls.__name__, None) is cls
            and (cls is fastwait.FastwaitError or f"── {cls.__name__} " in tree)
        )
    ]
    assert missing == []


def test_every_exception_derives_from_fastwait_error() -> None:
    exceptions = importlib.import_module("fastwait.exceptions")
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), fastwait.FastwaitError), name


PUBLIC_MODULES = (
    "fastwait",
    "fastwait.exceptions",
    "fastwait.events",
    "fastwait.providers",
    "fastwait.polling",
    "fastwait.registry",
    "fastwait.webhooks",
    "fastwait.receiver",
    "fastwait.downloads",
    "fastwait.testing",
)


def _exported() -> set[type]:
    return {
        value
        for name in PUBLIC_MODULES
        for attribute in importlib.import_module(name).__all__
        if isinstance(value := getattr(importlib.import_module(name), attribute), type)
    }


def _classes_in(annotation: object) -> Iterator[type]:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _classes_in(argument)
    origin = typing.get_origin(annotation)
    if isinstance(origin, type):
        yield origin


def _public_signatures() -> Iterator[tuple[str, object]]:
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            value = getattr(module, attribute)
            where = f"{name}.{attribute}"
            if inspect.isclass(value):
                yield where, value  # its attributes' annotations
                members = [("__init__", value.__init__)] + [
                    (member, getattr(value, member))
                    for member in vars(value)
                    if not member.startswith("_")
                ]
                for member, function in members:
                    if isinstance(function, property):
                        function = function.fget
                    if callable(function):
                        yield f"{where}.{member}", function
            elif callable(value):
                yield where, value


def test_every_type_in_a_public_signature_is_importable_from_a_public_module() -> None:
    exported = _exported()
    missing: set[str] = set()
    unresolved: set[str] = set()
    # A module may import a type for its hints only under TYPE_CHECKING (to break an import
    # cycle): such names resolve through the public namespace, the way a reader finds them.
    public = {
        attribute: getattr(importlib.import_module(name), attribute)
        for name in PUBLIC_MODULES
        for attribute in importlib.import_module(name).__all__
    }
    for where, function in _public_signatures():
        try:
            hints = typing.get_type_hints(function, localns=public)
        except (NameError, TypeError) as exc:
            # Builtins and C functions carry no hints; Python code whose hints name what its
            # module cannot resolve is what this test exists to find.
            if getattr(function, "__annotations__", None):
                unresolved.add(f"{where}: {exc}")
            continue
        for annotation in hints.values():
            for cls in _classes_in(annotation):
                if cls.__module__.startswith("fastwait") and cls not in exported:
                    missing.add(f"{cls.__module__}.{cls.__qualname__} (in {where})")
    assert not unresolved, "hints that do not resolve:\n" + "\n".join(sorted(unresolved))
    assert not missing, "\n".join(sorted(missing))


def test_importing_fastwait_leaves_the_optional_parts_unloaded() -> None:
    optional = (
        "redis",
        "sqlite3",
        "cryptography",
        "fastwait.registry._redis",
        "fastwait.registry._sqlite",
        "fastwait.receiver",
        "fastwait.testing",
        "aiohttp.web",
    )
    probe = f"import sys, fastwait; print([m for m in {optional!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_importing_fastwait_reads_no_package_metadata() -> None:
    # Reading metadata imports importlib.metadata and scans sys.path: __version__ reads it
    # when it is first asked for.
    probe = "import sys, fastwait; print('importlib.metadata' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "False"


def test_the_stores_loaded_when_named_are_the_exported_classes() -> None:
    from fastwait.registry._redis import RedisResultStore
    from fastwait.registry._sqlite import SQLiteResultStore

    assert fastwait.RedisResultStore is RedisResultStore
    assert fastwait.SQLiteResultStore is SQLiteResultStore
    with pytest.raises(AttributeError):
        fastwait.NoSuchStore  # noqa: B018
