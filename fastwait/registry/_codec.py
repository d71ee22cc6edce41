"""Resolutions as JSON text, for the stores that keep them outside process memory.

The SQLite journal and the Redis store must write a :class:`Resolution` in one process and read
it back, unchanged, in another (after a restart, or on another replica). The rules live in this
module's private cattrs converter, never on the models and never in cattrs' global converter:
``JobState`` is its value, ``OutputInfo`` a nested object, ``raw`` and ``metrics`` the
provider's JSON as it was decoded; fields at their defaults are left out to keep records small.
"""

from __future__ import annotations

import cattrs
from cattrs.preconf.json import make_converter

from fastwait.exceptions import ConfigurationError
from fastwait.registry._store import Resolution

__all__ = ["decode_resolution", "encode_resolution"]

_converter = make_converter(omit_if_default=True)


def encode_resolution(resolution: Resolution) -> str:
    """``resolution`` as compact JSON text (ConfigurationError if ``raw`` is not JSON-able)."""
    try:
        return _converter.dumps(resolution, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"a resolution that is not JSON cannot be stored: {exc}") from None


def decode_resolution(data: str | bytes) -> Resolution:
    """The resolution :func:`encode_resolution` wrote.

    Raises :class:`ConfigurationError` for anything else (another program's record under the
    same key, a record of an incompatible fastwait, JSON nested past the decoder's depth),
    with cattrs' readable explanation where it has one.
    """
    try:
        return _converter.loads(data, Resolution)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ConfigurationError(f"stored record is not JSON: {exc}") from None
    except RecursionError:
        # Nested past the decoder's depth: no fastwait record is; a hostile writer's may be.
        raise ConfigurationError("stored record is nested too deeply") from None
    except cattrs.BaseValidationError as exc:
        reasons = "; ".join(cattrs.transform_error(exc, path="resolution"))
        raise ConfigurationError(f"stored record is not a fastwait resolution: {reasons}") from None
    except (TypeError, KeyError, AttributeError) as exc:
        raise ConfigurationError(f"stored record is not a fastwait resolution: {exc}") from None
