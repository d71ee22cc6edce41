"""Per-job callback tokens: they round-trip, and nothing forged or altered gets through."""

from __future__ import annotations

import base64
import re

import pytest

from fastwait.exceptions import ConfigurationError, WebhookVerificationError
from fastwait.webhooks import BadCallbackToken
from fastwait.webhooks._callback_tokens import MAX_TOKEN_LENGTH, CallbackClaim, CallbackTokens

SECRET = "0123456789abcdef-callback-secret"
URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def tokens() -> CallbackTokens:
    return CallbackTokens(SECRET)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- round trips --------------------------------------------------------------------------


def test_job_token_round_trips_to_its_claim(tokens: CallbackTokens) -> None:
    token = tokens.for_job("compress", "job_8f3a-12")
    assert tokens.verify(token) == CallbackClaim("compress", "job_8f3a-12", is_job_id=True)


def test_submission_token_round_trips_to_its_nonce(tokens: CallbackTokens) -> None:
    token, nonce = tokens.for_submission("media")
    assert tokens.verify(token) == CallbackClaim("media", nonce, is_job_id=False)


def test_submission_nonces_are_unique(tokens: CallbackTokens) -> None:
    nonces = {tokens.for_submission("media")[1] for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(nonce) >= 22 for nonce in nonces)


def test_job_token_is_deterministic(tokens: CallbackTokens) -> None:
    assert tokens.for_job("convert", "42") == CallbackTokens(SECRET).for_job("convert", "42")


def test_secret_may_be_bytes(tokens: CallbackTokens) -> None:
    token = CallbackTokens(SECRET.encode()).for_job("convert", "42")
    assert tokens.verify(token).reference == "42"


@pytest.mark.parametrize(
    ("provider", "job_id"),
    [("compress", "a"), ("compressorapp", "~" * 256), ("a" * 64, "x/y+z=?&#%")],
)
def test_tokens_are_url_safe_and_bounded(
    tokens: CallbackTokens, provider: str, job_id: str
) -> None:
    token = tokens.for_job(provider, job_id)
    assert URL_SAFE.fullmatch(token)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert tokens.verify(token).reference == job_id


# --- forgeries ----------------------------------------------------------------------------


def test_tampered_payload_is_rejected(tokens: CallbackTokens) -> None:
    payload, tag = tokens.for_job("compress", "job-1").split(".")
    forged = b64url(b64url_decode(payload).replace(b"job-1", b"job-2"))
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{forged}.{tag}")


def test_tampered_tag_is_rejected(tokens: CallbackTokens) -> None:
    payload, tag = tokens.for_job("compress", "job-1").split(".")
    raw = bytearray(b64url_decode(tag))
    raw[0] ^= 1
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{payload}.{b64url(bytes(raw))}")


def test_token_from_another_secret_is_rejected(tokens: CallbackTokens) -> None:
    foreign = CallbackTokens("another secret of enough length").for_job("compress", "job-1")
    with pytest.raises(BadCallbackToken):
        tokens.verify(foreign)


def test_provider_cannot_be_swapped_in_a_valid_token(tokens: CallbackTokens) -> None:
    payload, tag = tokens.for_job("compress", "job-1").split(".")
    swapped = b64url(b64url_decode(payload).replace(b"compress", b"convert"))
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{swapped}.{tag}")


def test_payload_and_tag_of_different_tokens_cannot_be_spliced(tokens: CallbackTokens) -> None:
    compress_payload, _ = tokens.for_job("compress", "job-1").split(".")
    _, convert_tag = tokens.for_job("convert", "job-1").split(".")
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{compress_payload}.{convert_tag}")


def test_nonce_token_cannot_pass_as_a_job_id_token(tokens: CallbackTokens) -> None:
    token, _ = tokens.for_submission("media")
    payload, tag = token.split(".")
    as_job = b64url(b"j" + b64url_decode(payload)[1:])
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{as_job}.{tag}")


def test_non_canonical_base64_spelling_is_rejected(tokens: CallbackTokens) -> None:
    payload, tag = tokens.for_job("compress", "job-1").split(".")
    # The last character of an unpadded 22-character tag carries 4 unused bits.
    last = ALPHABET.index(tag[-1])
    respelled = tag[:-1] + ALPHABET[last ^ 1]
    assert respelled != tag
    assert b64url_decode(respelled) == b64url_decode(tag)
    with pytest.raises(BadCallbackToken):
        tokens.verify(f"{payload}.{respelled}")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param(".", id="only-dot"),
        pytest.param("abc", id="no-dot"),
        pytest.param("abc.", id="no-tag"),
        pytest.param(".abc", id="no-payload"),
        pytest.param("a.b.c", id="two-dots"),
        pytest.param("YQ.AAAAAAAAAAAAAAAAAAAAAA", id="zero-tag"),
        pytest.param("YQ.AAAA", id="short-tag"),
        pytest.param("YQ." + "A" * 43, id="long-tag"),
        pytest.param("YQ=.AAAAAAAAAAAAAAAAAAAAAA", id="padding"),
        pytest.param("Y+Q.AAAAAAAAAAAAAAAAAAAAAA", id="standard-alphabet"),
        pytest.param("A.AAAAAAAAAAAAAAAAAAAAAA", id="impossible-length"),
        pytest.param("٣.AAAAAAAAAAAAAAAAAAAAAA", id="non-ascii"),
        pytest.param("YQ.AAAAAAAAAAAAAAAAAAAAAA\n", id="trailing-newline"),
        pytest.param("%2e%2e.AAAAAAAAAAAAAAAAAAAAAA", id="percent-encoded"),
        pytest.param("A" * 600 + ".AAAAAAAAAAAAAAAAAAAAAA", id="too-long"),
        pytest.param("\x00", id="nul"),
        pytest.param("\ud800.AAAAAAAAAAAAAAAAAAAAAA", id="lone-surrogate"),
    ],
)
def test_garbage_token_is_rejected(tokens: CallbackTokens, token: str) -> None:
    with pytest.raises(BadCallbackToken):
        tokens.verify(token)


def test_overlong_token_is_rejected_before_decoding(tokens: CallbackTokens) -> None:
    with pytest.raises(BadCallbackToken, match="at most"):
        tokens.verify(tokens.for_job("compress", "job-1") + "A" * MAX_TOKEN_LENGTH)


def test_bad_callback_token_is_a_webhook_verification_error() -> None:
    assert issubclass(BadCallbackToken, WebhookVerificationError)


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "short", b"fifteen bytes!!", "é" * 7])
def test_short_secret_is_a_configuration_error(secret: str | bytes) -> None:
    with pytest.raises(ConfigurationError):
        CallbackTokens(secret)


@pytest.mark.parametrize(
    ("provider", "job_id"),
    [
        ("", "job-1"),
        ("compress", ""),
        ("com\x1fpress", "job-1"),
        ("compress", "job\x1f1"),
        ("compress", "job 1"),
        ("compress", "jöb"),
        ("a" * 65, "job-1"),
        ("compress", "j" * 257),
    ],
)
def test_unusable_provider_or_job_id_is_a_configuration_error(
    tokens: CallbackTokens, provider: str, job_id: str
) -> None:
    with pytest.raises(ConfigurationError):
        tokens.for_job(provider, job_id)


def test_repr_does_not_show_the_secret(tokens: CallbackTokens) -> None:
    assert SECRET not in repr(tokens)
    assert "secret" in repr(tokens)
