"""Sign and verify webhooks in the Standard Webhooks format (https://www.standardwebhooks.com).

A webhook is an HTTP request from an unknown source; its body is trusted only after its signature
has been checked over the exact bytes received, before anything parses them. The reference
libraries leave gaps this module closes: the timestamp is checked in both directions against a
settable tolerance, it must be canonical decimal digits, the message id must be plain ASCII
without ``.`` (so ``{id}.{timestamp}.{body}`` splits only one way), the signature header is parsed
strictly and at most :data:`MAX_SIGNATURES` entries are looked at, and every failure is a
:class:`~fastwait.exceptions.WebhookVerificationError` subclass, never a decoding or cryptography
error::

    WebhookVerificationError
    ├── MalformedHeader           a header is missing, duplicated or not in the spec's syntax
    ├── TimestampOutOfTolerance   authentic-looking, but too old or too far in the future
    ├── SignatureMismatch         no signature matches any configured key
    └── BadCallbackToken          a per-job callback token is forged or malformed

Keys are written as the spec serializes them: ``whsec_`` + base64 (HMAC-SHA256, signature
version ``v1``), ``whsk_`` + base64 (Ed25519 secret key, ``v1a``) and ``whpk_`` + base64 (Ed25519
public key). Padding is optional on input; an HMAC secret must hold at least 24 bytes, the
spec's minimum.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets as _secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

from multidict import CIMultiDict, CIMultiDictProxy

from fastwait.exceptions import (
    ConfigurationError,
    MalformedHeader,
    SignatureMismatch,
    TimestampOutOfTolerance,
)

if TYPE_CHECKING:
    # Imported where an Ed25519 key is used: most deployments sign with HMAC only, and the
    # cryptography bindings cost import time and memory.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "MAX_SIGNATURES",
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "generate_secret",
    "generate_signing_key",
]

MAX_SIGNATURES: Final = 10
"""Most entries a ``webhook-signature`` header may hold; more is rejected unread."""

_MAX_SIGNATURE_HEADER: Final = 8192
_MAX_ID_LENGTH: Final = 256
_MIN_SECRET_BYTES: Final = 24
_MAX_SECRET_BYTES: Final = 1024

# Printable ASCII without space and '.', so the signed content has exactly one reading.
_MSG_ID: Final = re.compile(rf"[\x21-\x2d\x2f-\x7e]{{1,{_MAX_ID_LENGTH}}}")
# Canonical decimal: ASCII digits, no sign, no leading zero, at most 12 digits (year 33658).
_TIMESTAMP: Final = re.compile(r"0|[1-9][0-9]{0,11}")
_PRINTABLE_TOKEN: Final = re.compile(r"[\x21-\x7e]+")
# version -> length in bytes of its signature: HMAC-SHA256 and Ed25519.
_SIGNATURE_BYTES: Final = {"v1": 32, "v1a": 64}
_HEADER_NAMES: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
_SINGLE_V1_LENGTH: Final = len("v1,") + 44  # one v1 entry: 32 bytes in padded base64


def generate_secret() -> str:
    """A fresh HMAC secret, ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + _b64(_secrets.token_bytes(32))


def generate_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 pair: (``whsk_`` + base64(seed + public key), ``whpk_`` + base64(public))."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    return "whsk_" + _b64(private.private_bytes_raw() + public), "whpk_" + _b64(public)


class StandardWebhookVerifier:
    """Checks a webhook's three headers and raw body against trusted keys.

    Several ``secrets`` (``whsec_``, prefix optional) and ``public_keys`` (``whpk_``, prefix
    optional) may be configured at once for rotation; one valid signature by any of them passes.
    ``tolerance`` is in seconds, both ways; ``clock`` returns seconds since the epoch.
    Raises :class:`ConfigurationError` when no key is given or a key cannot be decoded.
    """

    __slots__ = ("_clock", "_hmacs", "_public_keys", "_tolerance")

    def __init__(
        self,
        secrets: Iterable[str] = (),
        public_keys: Iterable[str] = (),
        *,
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secrets, str) or isinstance(public_keys, str):
            raise ConfigurationError("secrets and public_keys are lists of keys, not one string")
        # Keyed once: copying a keyed HMAC is cheaper than keying one per webhook.
        self._hmacs = tuple(
            hmac.new(_hmac_secret(s, prefix_required=False), digestmod=hashlib.sha256)
            for s in secrets
        )
        self._public_keys = tuple(_public_key(k) for k in public_keys)
        if not self._hmacs and not self._public_keys:
            raise ConfigurationError("give at least one secret (whsec_) or public key (whpk_)")
        if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
            raise ConfigurationError("tolerance must be a finite number of seconds >= 0")
        self._tolerance = float(tolerance)
        self._clock = clock

    @property
    def tolerance(self) -> float:
        """Seconds a timestamp may lie before or after the clock."""
        return self._tolerance

    def __repr__(self) -> str:
        return (
            f"StandardWebhookVerifier(secrets={len(self._hmacs)}, "
            f"public_keys={len(self._public_keys)}, tolerance={self._tolerance:g})"
        )

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the ``webhook-id`` once ``body`` is proven authentic and fresh.

        Header names are matched case-insensitively; ``body`` must be the bytes exactly as
        received. Raises a :class:`WebhookVerificationError` subclass and nothing else for any
        input the sender could control.
        """
        msg_id, timestamp, signature_header = _required_headers(headers)
        _check_msg_id(msg_id, MalformedHeader)
        if not _TIMESTAMP.fullmatch(timestamp):
            raise MalformedHeader("webhook-timestamp is not canonical decimal seconds")
        entries = _parse_signatures(signature_header)
        self._check_tolerance(int(timestamp))
        if self._matches(entries, f"{msg_id}.{timestamp}.".encode("ascii"), body):
            return msg_id
        raise SignatureMismatch("no signature matches a configured key")

    def _check_tolerance(self, timestamp: int) -> None:
        now = float(self._clock())
        age = now - timestamp
        if not abs(age) <= self._tolerance:  # written so that a NaN clock fails closed
            when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
            raise TimestampOutOfTolerance(
                f"webhook-timestamp is {when} (tolerance {self._tolerance:g} s)",
                timestamp=timestamp,
                now=now,
            )

    def _matches(self, entries: list[tuple[str, bytes]], prefix: bytes, body: bytes) -> bool:
        """True when an entry is signed by a configured key over ``prefix + body``."""
        macs: list[bytes] | None = None
        content: bytes | None = None
        for version, signature in entries:
            if version == "v1":
                if macs is None:
                    macs = [_digest(keyed, prefix, body) for keyed in self._hmacs]
                for mac in macs:
                    if hmac.compare_digest(mac, signature):
                        return True
            elif version == "v1a" and self._public_keys:
                from cryptography.exceptions import InvalidSignature

                if content is None:
                    content = prefix + body
                for public_key in self._public_keys:
                    try:
                        public_key.verify(signature, content)
                    except InvalidSignature:
                        continue
                    return True
        return False


def _digest(keyed: hmac.HMAC, prefix: bytes, body: bytes) -> bytes:
    """The MAC of ``prefix + body`` by a copy of an already keyed HMAC (the bytes not joined)."""
    mac = keyed.copy()
    mac.update(prefix)
    mac.update(body)
    return mac.digest()


class StandardWebhookSigner:
    """Signs outgoing webhooks with one key: ``whsec_`` (``v1``) or ``whsk_`` (``v1a``).

    A ``whsk_`` key is the 32-byte Ed25519 seed, or the seed followed by its public key (64 bytes,
    libsodium's layout); a public half that does not belong to the seed is a
    :class:`ConfigurationError`. ``clock`` supplies the timestamp :meth:`headers` uses by default.
    """

    __slots__ = ("_clock", "_key")

    def __init__(self, key: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key: bytes | Ed25519PrivateKey
        if isinstance(key, str) and key.strip().startswith("whsk_"):
            self._key = _private_key(key)
        elif isinstance(key, str) and key.strip().startswith("whsec_"):
            self._key = _hmac_secret(key, prefix_required=True)
        else:
            raise ConfigurationError("a signing key starts with whsec_ (v1) or whsk_ (v1a)")
        self._clock = clock

    @property
    def version(self) -> str:
        """The signature version this signer writes: ``v1`` (HMAC) or ``v1a`` (Ed25519)."""
        return "v1" if isinstance(self._key, bytes) else "v1a"

    def __repr__(self) -> str:
        return f"StandardWebhookSigner(version={self.version!r})"

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` entry for this message: ``v1,<b64>`` or ``v1a,<b64>``.

        Raises :class:`ConfigurationError` for an id or timestamp a verifier would reject.
        """
        _check_msg_id(msg_id, ConfigurationError)
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise ConfigurationError("timestamp must be whole seconds since the epoch (int)")
        if not _TIMESTAMP.fullmatch(str(timestamp)):
            raise ConfigurationError("timestamp must be between 0 and 12 decimal digits long")
        content = b"".join((f"{msg_id}.{timestamp}.".encode("ascii"), body))
        if isinstance(self._key, bytes):
            return "v1," + _b64(hmac.digest(self._key, content, hashlib.sha256))
        return "v1a," + _b64(self._key.sign(content))

    def headers(self, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The three Standard Webhooks headers for ``body``; ``timestamp`` defaults to the clock."""
        if timestamp is None:
            timestamp = math.floor(self._clock())
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(msg_id, timestamp, body),
        }


# --- header parsing -----------------------------------------------------------------------


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """The id, timestamp and signature header values; each must appear exactly once."""
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):
        # aiohttp's headers: look the three names up (multidict folds case with str.lower, as
        # the scan below does); anything but one non-empty value each takes the scan for its
        # error message.
        id_values = headers.getall("webhook-id", ())
        timestamp_values = headers.getall("webhook-timestamp", ())
        signature_values = headers.getall("webhook-signature", ())
        if len(id_values) == len(timestamp_values) == len(signature_values) == 1:
            msg_id, timestamp, signature = id_values[0], timestamp_values[0], signature_values[0]
            if (
                isinstance(msg_id, str)
                and isinstance(timestamp, str)
                and isinstance(signature, str)
                and msg_id
                and timestamp
                and signature
            ):
                return msg_id, timestamp, signature
    found: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        lowered = name.lower()
        if lowered not in _HEADER_NAMES:
            continue
        if lowered in found:
            raise MalformedHeader(f"{lowered} appears more than once")
        if not isinstance(value, str):
            raise MalformedHeader(f"{lowered} is not text")
        found[lowered] = value
    for required in _HEADER_NAMES:
        if not found.get(required):
            raise MalformedHeader(f"{required} header is missing or empty")
    return found["webhook-id"], found["webhook-timestamp"], found["webhook-signature"]


def _check_msg_id(msg_id: str, error: type[Exception]) -> None:
    if not (isinstance(msg_id, str) and _MSG_ID.fullmatch(msg_id)):
        raise error(
            f"webhook-id must be 1-{_MAX_ID_LENGTH} printable ASCII characters without"
            " spaces or '.'"
        )


def _parse_signatures(header: str) -> list[tuple[str, bytes]]:
    """Decode the ``v1``/``v1a`` entries of a ``webhook-signature`` header; skip other versions.

    Every entry must read ``version,base64``; a known version must carry a signature of its
    exact length. Any departure rejects the whole header rather than guessing.
    """
    if len(header) == _SINGLE_V1_LENGTH and header.startswith("v1,"):
        # The common header, one v1 entry: strict base64 holds no space nor unprintable
        # character, so decoding it is the whole check. Otherwise the full parse decides.
        signature = _b64decode(header[3:])
        if signature is not None and len(signature) == _SIGNATURE_BYTES["v1"]:
            return [("v1", signature)]
    if len(header) > _MAX_SIGNATURE_HEADER:
        raise MalformedHeader("webhook-signature is too long")
    tokens = [token for token in header.split(" ") if token]
    if not tokens:
        raise MalformedHeader("webhook-signature holds no signature")
    if len(tokens) > MAX_SIGNATURES:
        raise MalformedHeader(f"webhook-signature holds more than {MAX_SIGNATURES} signatures")
    entries: list[tuple[str, bytes]] = []
    for token in tokens:
        version, comma, encoded = token.partition(",")
        if not (comma and version and encoded and _PRINTABLE_TOKEN.fullmatch(token)):
            raise MalformedHeader("webhook-signature entries must read 'version,signature'")
        size = _SIGNATURE_BYTES.get(version)
        if size is None:
            continue
        signature = _b64decode(encoded)
        if signature is None or len(signature) != size:
            raise MalformedHeader(f"a {version} signature must be {size} bytes in padded base64")
        entries.append((version, signature))
    return entries


# --- keys ---------------------------------------------------------------------------------


def _hmac_secret(text: str, *, prefix_required: bool) -> bytes:
    secret = _decode_key(text, "whsec", prefix_required=prefix_required)
    if not _MIN_SECRET_BYTES <= len(secret) <= _MAX_SECRET_BYTES:
        raise ConfigurationError(
            f"a whsec_ secret must decode to {_MIN_SECRET_BYTES}-{_MAX_SECRET_BYTES} bytes,"
            f" not {len(secret)}"
        )
    return secret


def _public_key(text: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = _decode_key(text, "whpk", prefix_required=False)
    if len(raw) != 32:
        raise ConfigurationError(f"a whpk_ public key must decode to 32 bytes, not {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ConfigurationError("whpk_ key is not an Ed25519 public key") from exc


def _private_key(text: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = _decode_key(text, "whsk", prefix_required=True)
    if len(raw) not in (32, 64):
        raise ConfigurationError(f"a whsk_ key must decode to 32 or 64 bytes, not {len(raw)}")
    try:
        private = Ed25519PrivateKey.from_private_bytes(raw[:32])
    except ValueError as exc:
        raise ConfigurationError("whsk_ key is not an Ed25519 seed") from exc
    public = private.public_key().public_bytes_raw()
    if len(raw) == 64 and not hmac.compare_digest(raw[32:], public):
        raise ConfigurationError("the public half of this whsk_ key does not belong to its seed")
    return private


_KEY_PREFIXES: Final = ("whsec", "whsk", "whpk")


def _decode_key(text: str, prefix: str, *, prefix_required: bool) -> bytes:
    """The bytes of a serialized key; padding is optional, surrounding whitespace ignored.

    Messages never quote the key: it may be a secret.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"a {prefix}_ key must be a str")
    found, underscore, encoded = text.strip().rpartition("_")
    if underscore and found != prefix:
        named = f"a {found}_ key" if found in _KEY_PREFIXES else "a key with an unknown prefix"
        raise ConfigurationError(f"expected a {prefix}_ key, got {named}")
    if prefix_required and not underscore:
        raise ConfigurationError(f"a {prefix}_ key must start with {prefix}_")
    unpadded = encoded.rstrip("=")
    if not unpadded:
        raise ConfigurationError(f"the {prefix}_ key is empty")
    raw = _b64decode(unpadded + "=" * (-len(unpadded) % 4))
    if raw is None:
        raise ConfigurationError(f"the {prefix}_ key is not valid base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64 (padded, no stray characters), or None."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)  # a str must be ASCII, or ValueError
    except (binascii.Error, ValueError):
        return None
