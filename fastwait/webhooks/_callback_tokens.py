"""Per-job callback tokens for providers that cannot sign their webhooks.

Such a provider calls whatever URL it was given, so the URL itself must be the credential: the
client hands each job its own ``/callbacks/{token}``, where the token is an HMAC of what it
stands for. A forged, altered or foreign token fails :meth:`CallbackTokens.verify`; nothing is
stored server-side. The job id is often unknown when the URL must be chosen (it arrives with the
submit answer), so a token binds either a known job id or a random nonce the client later maps
to the job id.

Format: ``base64url(payload) "." base64url(tag)``, unpadded, where payload is
``kind \\x1f provider \\x1f reference`` in ASCII (kind ``j`` for a job id, ``n`` for a nonce) and
tag is the first 16 bytes of HMAC-SHA256 over a domain label and the payload, under a key
derived from the secret (so the secret can be shared with other uses without confusion).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import Final

import attrs

from fastwait.exceptions import BadCallbackToken, ConfigurationError

__all__ = ["MAX_TOKEN_LENGTH", "CallbackClaim", "CallbackTokens"]

MAX_TOKEN_LENGTH: Final = 512
"""Longest token :meth:`CallbackTokens.verify` will look at; issued tokens stay under it."""
_MIN_SECRET_BYTES: Final = 16
_TAG_BYTES: Final = 16
_KEY_LABEL: Final = b"fastwait/callback-token/key/v1"
_MAC_LABEL: Final = b"fastwait/callback-token/v1\x00"
_SEPARATOR: Final = "\x1f"
_KINDS: Final = {"j": True, "n": False}

_PROVIDER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REFERENCE: Final = re.compile(r"[\x21-\x7e]{1,256}")
_TOKEN: Final = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


@attrs.frozen
class CallbackClaim:
    """What a verified token stands for: a job id (``is_job_id``) or a submission nonce."""

    provider: str
    reference: str
    is_job_id: bool


class CallbackTokens:
    """Issues and verifies callback tokens under one secret (str or bytes, >= 16 bytes).

    Tokens for a known job id are deterministic, so the client can recompute them; tokens for
    a submission carry a fresh 128-bit nonce. Tokens do not expire: rotate the secret to revoke.
    """

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not isinstance(raw, bytes) or len(raw) < _MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"the callback token secret must be at least {_MIN_SECRET_BYTES} bytes"
            )
        self._key = hmac.digest(raw, _KEY_LABEL, hashlib.sha256)

    def __repr__(self) -> str:
        return "CallbackTokens(secret=<hidden>)"

    def for_job(self, provider: str, job_id: str) -> str:
        """The token bound to ``job_id``; ConfigurationError if either name is unusable."""
        return self._issue("j", provider, job_id)

    def for_submission(self, provider: str) -> tuple[str, str]:
        """A token and its fresh nonce, for a job whose id is not known yet."""
        nonce = secrets.token_urlsafe(16)
        return self._issue("n", provider, nonce), nonce

    def verify(self, token: str) -> CallbackClaim:
        """The claim ``token`` was issued for; :class:`BadCallbackToken` if it is not genuine.

        The tag is checked (in constant time) before the payload is parsed. The caller must still
        check that ``claim.provider`` is the provider the request is for.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise BadCallbackToken(
                f"callback token is not a string of at most {MAX_TOKEN_LENGTH} characters"
            )
        match = _TOKEN.fullmatch(token) if token.isascii() else None
        payload = _b64url_decode(match[1]) if match else None
        tag = _b64url_decode(match[2]) if match else None
        if payload is None or tag is None or len(tag) != _TAG_BYTES:
            raise BadCallbackToken("callback token is malformed")
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise BadCallbackToken("callback token was not issued under this secret")
        claim = _parse_payload(payload)
        if claim is None:
            raise BadCallbackToken("callback token payload is malformed")
        return claim

    def _issue(self, kind: str, provider: str, reference: str) -> str:
        if not (isinstance(provider, str) and _PROVIDER.fullmatch(provider)):
            raise ConfigurationError("provider must be 1-64 characters of [A-Za-z0-9_.-]")
        if not (isinstance(reference, str) and _REFERENCE.fullmatch(reference)):
            raise ConfigurationError("job id must be 1-256 printable ASCII characters, no spaces")
        payload = _SEPARATOR.join((kind, provider, reference)).encode("ascii")
        return f"{_b64url(payload)}.{_b64url(self._tag(payload))}"

    def _tag(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, _MAC_LABEL + payload, hashlib.sha256)[:_TAG_BYTES]


def _parse_payload(payload: bytes) -> CallbackClaim | None:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = text.split(_SEPARATOR)
    if len(parts) != 3:
        return None
    kind, provider, reference = parts
    if kind not in _KINDS or not _PROVIDER.fullmatch(provider):
        return None
    if not _REFERENCE.fullmatch(reference):
        return None
    return CallbackClaim(provider=provider, reference=reference, is_job_id=_KINDS[kind])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    """Unpadded base64url in its one canonical spelling, or None."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64url(data) == text else None
