"""Standard Webhooks signing and verification: the spec's known answers, then every way to fail."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

import fastwait.webhooks
from fastwait.exceptions import ConfigurationError, WebhookVerificationError
from fastwait.webhooks import (
    MAX_SIGNATURES,
    MalformedHeader,
    SignatureMismatch,
    StandardWebhookSigner,
    StandardWebhookVerifier,
    TimestampOutOfTolerance,
    generate_secret,
    generate_signing_key,
)

# Known answers from the Standard Webhooks specification.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SIGNING_KEY = (
    "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
)
PUBLIC_KEY = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
V1_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
V1A_SIGNATURE = (
    "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
)

OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def clock_at(now: float = TIMESTAMP) -> Callable[[], float]:
    return lambda: now


def verifier(
    secrets: tuple[str, ...] = (SECRET,),
    public_keys: tuple[str, ...] = (),
    *,
    now: float = TIMESTAMP,
    tolerance: float = 300.0,
) -> StandardWebhookVerifier:
    return StandardWebhookVerifier(secrets, public_keys, tolerance=tolerance, clock=clock_at(now))


def headers(
    signature: str = V1_SIGNATURE, msg_id: str = MSG_ID, timestamp: str = str(TIMESTAMP)
) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- known answers and valid messages -----------------------------------------------------


def test_v1_signature_matches_the_spec_known_answer() -> None:
    assert StandardWebhookSigner(SECRET).sign(MSG_ID, TIMESTAMP, BODY) == V1_SIGNATURE


def test_v1a_signature_matches_the_spec_known_answer() -> None:
    assert StandardWebhookSigner(SIGNING_KEY).sign(MSG_ID, TIMESTAMP, BODY) == V1A_SIGNATURE


def test_valid_v1_signature_verifies_and_returns_the_id() -> None:
    assert verifier().verify(headers(V1_SIGNATURE), BODY) == MSG_ID


def test_valid_v1a_signature_verifies_with_the_public_key() -> None:
    assert verifier((), (PUBLIC_KEY,)).verify(headers(V1A_SIGNATURE), BODY) == MSG_ID


def test_header_names_are_matched_case_insensitively() -> None:
    mixed = {
        "Webhook-Id": MSG_ID,
        "WEBHOOK-TIMESTAMP": str(TIMESTAMP),
        "webhook-Signature": V1_SIGNATURE,
    }
    assert verifier().verify(mixed, BODY) == MSG_ID


@pytest.mark.parametrize("configured", [(SECRET, OTHER_SECRET), (OTHER_SECRET, SECRET)])
def test_either_rotated_secret_verifies(configured: tuple[str, str]) -> None:
    assert verifier(configured).verify(headers(), BODY) == MSG_ID


def test_either_secret_or_public_key_verifies_when_both_are_configured() -> None:
    both = verifier((OTHER_SECRET,), (PUBLIC_KEY,))
    assert both.verify(headers(V1A_SIGNATURE), BODY) == MSG_ID


def test_one_valid_signature_among_unknown_versions_and_wrong_ones_verifies() -> None:
    wrong_v1 = StandardWebhookSigner(OTHER_SECRET).sign(MSG_ID, TIMESTAMP, BODY)
    header = f"v2,xxx {wrong_v1} v1b,{'A' * 200} {V1_SIGNATURE}"
    assert verifier().verify(headers(header), BODY) == MSG_ID


def test_extra_spaces_between_signatures_are_ignored() -> None:
    assert verifier().verify(headers(f"v2,xxx   {V1_SIGNATURE}"), BODY) == MSG_ID


def test_empty_body_with_valid_signature_verifies() -> None:
    signature = StandardWebhookSigner(SECRET).sign(MSG_ID, TIMESTAMP, b"")
    assert verifier().verify(headers(signature), b"") == MSG_ID


def test_non_utf8_body_verifies_over_its_bytes() -> None:
    body = b"\xff\xfe\x00\x80 not utf-8"
    signature = StandardWebhookSigner(SECRET).sign(MSG_ID, TIMESTAMP, body)
    assert verifier().verify(headers(signature), body) == MSG_ID


# --- forged or altered messages -----------------------------------------------------------


def test_wrong_secret_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier((OTHER_SECRET,)).verify(headers(), BODY)


def test_v1a_signature_from_another_key_is_a_signature_mismatch() -> None:
    _, other_public = generate_signing_key()
    with pytest.raises(SignatureMismatch):
        verifier((), (other_public,)).verify(headers(V1A_SIGNATURE), BODY)


def test_only_unknown_versions_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers("v2,xxx v0,yyy"), BODY)


def test_v1a_signature_without_a_public_key_configured_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(V1A_SIGNATURE), BODY)


def test_tampered_body_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(), b'{"test": 2432232315}')


def test_tampered_id_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(msg_id="msg_p5jXN8AQM9LWM0D4loKWxJel"), BODY)


def test_tampered_timestamp_is_a_signature_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(timestamp=str(TIMESTAMP + 1)), BODY)


def test_id_and_timestamp_boundaries_cannot_be_shifted() -> None:
    # "a" "." "1614265330" "." "9.{...}" would sign the same bytes as id "a.1614265330".
    signer = StandardWebhookSigner(SECRET)
    signature = signer.sign("a", TIMESTAMP, b"1614265330." + BODY)
    with pytest.raises(MalformedHeader):
        verifier().verify(headers(signature, msg_id=f"a.{TIMESTAMP}"), BODY)


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "tolerance"),
    [
        pytest.param(TIMESTAMP + 301, 300.0, id="stale"),
        pytest.param(TIMESTAMP - 301, 300.0, id="future"),
        pytest.param(TIMESTAMP + 11, 10.0, id="stale-short-tolerance"),
        pytest.param(TIMESTAMP - 11, 10.0, id="future-short-tolerance"),
        pytest.param(TIMESTAMP + 1, 0.0, id="zero-tolerance"),
        pytest.param(float("nan"), 300.0, id="nan-clock"),
    ],
)
def test_timestamp_outside_tolerance_is_rejected(now: float, tolerance: float) -> None:
    with pytest.raises(TimestampOutOfTolerance):
        verifier(now=now, tolerance=tolerance).verify(headers(), BODY)


@pytest.mark.parametrize(
    ("now", "tolerance"),
    [
        (TIMESTAMP + 300, 300.0),
        (TIMESTAMP - 300, 300.0),
        (TIMESTAMP + 3600, 3600.0),
        (TIMESTAMP, 0.0),
    ],
)
def test_timestamp_within_tolerance_verifies(now: float, tolerance: float) -> None:
    assert verifier(now=now, tolerance=tolerance).verify(headers(), BODY) == MSG_ID


def test_timestamp_error_reports_the_timestamp_and_the_clock() -> None:
    with pytest.raises(TimestampOutOfTolerance, match="in the future") as caught:
        verifier(now=TIMESTAMP - 1000).verify(headers(), BODY)
    assert (caught.value.timestamp, caught.value.now) == (TIMESTAMP, TIMESTAMP - 1000)


@pytest.mark.parametrize(
    "timestamp",
    [
        "+1614265330",
        " 1614265330 ",
        "1614265330.9",
        "1614265330.0",
        "1_614_265_330",
        "01614265330",
        "-1614265330",
        "1614265330\n",
        "1.6e9",
        "0x6037ad32",
        "١٦١٤٢٦٥٣٣٠",
        "１６１４２６５３３０",
        "1" * 13,
        "9" * 5000,
        "",
    ],
)
def test_non_canonical_timestamp_is_malformed(timestamp: str) -> None:
    with pytest.raises(MalformedHeader):
        verifier().verify(headers(timestamp=timestamp), BODY)


@pytest.mark.parametrize("tolerance", [-1.0, float("inf"), float("nan")])
def test_invalid_tolerance_is_a_configuration_error(tolerance: float) -> None:
    with pytest.raises(ConfigurationError):
        verifier(tolerance=tolerance)


# --- malformed headers --------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_malformed(missing: str) -> None:
    incomplete = headers()
    del incomplete[missing]
    with pytest.raises(MalformedHeader, match=missing):
        verifier().verify(incomplete, BODY)


def test_header_given_twice_in_different_case_is_malformed() -> None:
    twice = {**headers(), "Webhook-Signature": "v1,AAAA"}
    with pytest.raises(MalformedHeader):
        verifier().verify(twice, BODY)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("v1,", id="cut-after-comma"),
        pytest.param("v1,g0hM9", id="eight-characters"),
        pytest.param("v1", id="no-comma"),
        pytest.param("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", id="no-version"),
        pytest.param(",g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", id="empty-version"),
        pytest.param(V1_SIGNATURE[:-1], id="one-character-short"),
        pytest.param(V1_SIGNATURE + "A", id="one-character-long"),
        pytest.param(V1_SIGNATURE.rstrip("="), id="padding-dropped"),
        pytest.param("v1," + "!" * 44, id="non-base64"),
        pytest.param("v1," + "é" * 44, id="non-ascii"),
        pytest.param("v1," + V1_SIGNATURE[3:].replace("=", "A"), id="unpadded-33-bytes"),
        pytest.param("v1a," + V1_SIGNATURE[3:], id="v1a-with-hmac-length"),
        pytest.param("v1," + V1A_SIGNATURE[4:], id="v1-with-ed25519-length"),
        pytest.param(f"{V1_SIGNATURE}\tv2,x", id="tab-separator"),
        pytest.param(f"v2,x {V1_SIGNATURE[:10]}", id="cut-short-after-a-valid-entry"),
        pytest.param("   ", id="only-spaces"),
        pytest.param("v2,\x00", id="control-character"),
    ],
)
def test_malformed_signature_header_is_rejected(signature: str) -> None:
    with pytest.raises(MalformedHeader):
        verifier().verify(headers(signature), BODY)


def test_more_signatures_than_the_cap_are_rejected_even_with_a_valid_one() -> None:
    header = " ".join([V1_SIGNATURE] + ["v2,x"] * MAX_SIGNATURES)
    with pytest.raises(MalformedHeader, match="more than"):
        verifier().verify(headers(header), BODY)


def test_huge_signature_header_is_rejected() -> None:
    with pytest.raises(MalformedHeader, match="too long"):
        verifier().verify(headers("v2," + "A" * 100_000), BODY)


@pytest.mark.parametrize(
    "msg_id",
    [
        pytest.param("m" * 257, id="too-long"),
        pytest.param("msg id", id="space"),
        pytest.param("msg.id", id="dot"),
        pytest.param("msg_é", id="non-ascii"),
        pytest.param("msg\x00", id="nul"),
        pytest.param("msg\n", id="newline"),
    ],
)
def test_unusable_message_id_is_malformed(msg_id: str) -> None:
    with pytest.raises(MalformedHeader, match="webhook-id"):
        verifier().verify(headers(msg_id=msg_id), BODY)


def _garbage_values() -> list[str]:
    rng = random.Random(20240601)
    values = [rng.randbytes(n).decode("latin-1") for n in (1, 3, 8, 44, 45, 88, 300, 9000)]
    values += [rng.randbytes(33).hex(), b64(rng.randbytes(32)), b64(rng.randbytes(64))]
    values += [
        ",",
        ",,,",
        "v1,,",
        "v1,v1,v1",
        "=" * 44,
        "v1," + "=" * 44,
        "v1a," + "A" * 87 + "\x00",
        "\u202ev1,abcd",
        "\ud800",
        "v1,\udcff" + "A" * 43,
        "𝟏𝟔𝟏𝟒𝟐𝟔𝟓𝟑𝟑𝟎",
        "None",
        "null",
        "-0",
        "1e309",
        "0." + "0" * 50,
        "\r\n\r\n",
        "v1 ," + V1_SIGNATURE[3:],
        " ".join(["v1,"] * 20),
    ]
    return values


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("garbage", _garbage_values())
def test_garbage_header_value_raises_only_verification_errors(name: str, garbage: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verifier((SECRET,), (PUBLIC_KEY,)).verify({**headers(), name: garbage}, BODY)


# --- configuration ------------------------------------------------------------------------


def test_no_keys_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookVerifier()


def test_a_single_string_instead_of_a_list_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookVerifier(SECRET)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param("whsec_", id="empty-after-prefix"),
        pytest.param("whsec_====", id="only-padding"),
        pytest.param("whsec_!!!!notbase64!!!!", id="non-base64"),
        pytest.param("whsec_Mf KQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id="inner-space"),
        pytest.param("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwé", id="non-ascii"),
        pytest.param("whsec_" + b64(b"x" * 23), id="shorter-than-24-bytes"),
        pytest.param("whsec_" + "A" * 33, id="impossible-length"),
        pytest.param("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-aSw", id="urlsafe-alphabet"),
        pytest.param(PUBLIC_KEY, id="public-key"),
        pytest.param(SIGNING_KEY, id="signing-key"),
        pytest.param("wh_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id="unknown-prefix"),
    ],
)
def test_unusable_secret_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookVerifier([secret])


@pytest.mark.parametrize(
    "public_key",
    [
        pytest.param("", id="empty"),
        pytest.param("whpk_" + b64(bytes(31)), id="31-bytes"),
        pytest.param("whpk_" + b64(bytes(33)), id="33-bytes"),
        pytest.param("whpk_#####", id="non-base64"),
        pytest.param(SECRET, id="hmac-secret"),
        pytest.param(SIGNING_KEY, id="signing-key"),
    ],
)
def test_unusable_public_key_is_a_configuration_error(public_key: str) -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookVerifier(public_keys=[public_key])


def test_configuration_error_never_quotes_the_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        StandardWebhookVerifier(["whsec_" + b64(b"s3cr3t" * 3)])
    assert b64(b"s3cr3t" * 3) not in str(caught.value)


def test_secret_prefix_is_optional_on_input() -> None:
    bare = SECRET.removeprefix("whsec_")
    assert verifier((bare,)).verify(headers(), BODY) == MSG_ID


def test_public_key_prefix_is_optional_on_input() -> None:
    bare = PUBLIC_KEY.removeprefix("whpk_")
    assert verifier((), (bare,)).verify(headers(V1A_SIGNATURE), BODY) == MSG_ID


def test_unpadded_secret_is_accepted_and_padded() -> None:
    padded = "whsec_" + b64(bytes(range(100, 132)))
    assert padded.endswith("=")
    signature = StandardWebhookSigner(padded).sign(MSG_ID, TIMESTAMP, BODY)
    assert verifier((padded.rstrip("="),)).verify(headers(signature), BODY) == MSG_ID


def test_surrounding_whitespace_in_a_configured_key_is_ignored() -> None:
    assert verifier((f" {SECRET}\n",)).verify(headers(), BODY) == MSG_ID


def test_reprs_do_not_show_keys() -> None:
    shown = repr(verifier((SECRET,), (PUBLIC_KEY,))) + repr(StandardWebhookSigner(SIGNING_KEY))
    for key in (SECRET, PUBLIC_KEY, SIGNING_KEY):
        assert key.split("_", 1)[1][:8] not in shown


# --- signing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(SECRET.removeprefix("whsec_"), id="secret-without-prefix"),
        pytest.param(PUBLIC_KEY, id="public-key"),
        pytest.param("", id="empty"),
        pytest.param("whsk_" + b64(bytes(48)), id="48-byte-signing-key"),
        pytest.param("whsk_not base64", id="non-base64-signing-key"),
    ],
)
def test_unusable_signing_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookSigner(key)


def test_signing_key_whose_public_half_is_not_its_own_is_rejected() -> None:
    raw = base64.b64decode(SIGNING_KEY.removeprefix("whsk_"))
    mismatched = "whsk_" + b64(raw[:32] + bytes(32))
    with pytest.raises(ConfigurationError, match="public half"):
        StandardWebhookSigner(mismatched)


def test_seed_only_signing_key_signs_like_the_full_key() -> None:
    seed = base64.b64decode(SIGNING_KEY.removeprefix("whsk_"))[:32]
    assert StandardWebhookSigner("whsk_" + b64(seed)).sign(MSG_ID, TIMESTAMP, BODY) == V1A_SIGNATURE


def test_signer_headers_use_the_clock_and_verify() -> None:
    signer = StandardWebhookSigner(SECRET, clock=clock_at(TIMESTAMP + 0.9))
    signed = signer.headers(MSG_ID, BODY)
    assert signed == headers(V1_SIGNATURE)
    assert verifier().verify(signed, BODY) == MSG_ID


def test_signer_headers_take_an_explicit_timestamp() -> None:
    signed = StandardWebhookSigner(SIGNING_KEY).headers(MSG_ID, BODY, TIMESTAMP)
    assert signed["webhook-signature"] == V1A_SIGNATURE


@pytest.mark.parametrize(
    ("msg_id", "timestamp"),
    [("", TIMESTAMP), ("msg.1", TIMESTAMP), ("msg 1", TIMESTAMP), (MSG_ID, -1), (MSG_ID, True)],
)
def test_signer_refuses_what_a_verifier_would_reject(msg_id: str, timestamp: int) -> None:
    with pytest.raises(ConfigurationError):
        StandardWebhookSigner(SECRET).sign(msg_id, timestamp, BODY)


def test_generated_secret_round_trips() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != generate_secret()
    signed = StandardWebhookSigner(secret).headers(MSG_ID, BODY, TIMESTAMP)
    assert verifier((secret,)).verify(signed, BODY) == MSG_ID


def test_generated_signing_key_round_trips() -> None:
    signing_key, public_key = generate_signing_key()
    assert signing_key.startswith("whsk_")
    assert public_key.startswith("whpk_")
    signed = StandardWebhookSigner(signing_key).headers(MSG_ID, BODY, TIMESTAMP)
    assert verifier((), (public_key,)).verify(signed, BODY) == MSG_ID


# --- interoperability with the reference library ------------------------------------------


def test_reference_library_signature_verifies_here() -> None:
    now = int(time.time())
    signature = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(now, tz=UTC), BODY.decode())
    signed = headers(signature, timestamp=str(now))
    assert StandardWebhookVerifier([SECRET]).verify(signed, BODY) == MSG_ID


def test_our_v1_signature_verifies_in_the_reference_library() -> None:
    signed = StandardWebhookSigner(SECRET).headers(MSG_ID, BODY)
    Webhook(SECRET).verify(BODY, signed, json_parse=False)


# --- the module's surface -----------------------------------------------------------------


def test_every_verification_error_is_a_webhook_verification_error() -> None:
    for error in (MalformedHeader, TimestampOutOfTolerance, SignatureMismatch):
        assert issubclass(error, WebhookVerificationError)


def test_exported_names() -> None:
    assert sorted(fastwait.webhooks.__all__) == sorted(
        [
            "MAX_SIGNATURES",
            "MAX_TOKEN_LENGTH",
            "BadCallbackToken",
            "CallbackBindings",
            "CallbackClaim",
            "CallbackTokens",
            "MalformedHeader",
            "SignatureMismatch",
            "StandardWebhookSigner",
            "StandardWebhookVerifier",
            "TimestampOutOfTolerance",
            "generate_secret",
            "generate_signing_key",
        ]
    )
