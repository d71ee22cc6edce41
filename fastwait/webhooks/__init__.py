"""Trusting what the APIs push: Standard Webhooks signatures and per-job callback tokens.

Pure and I/O-free, shared by the client (which signs up for callbacks and mints tokens) and the
receiver (:mod:`fastwait.receiver`, which verifies them):

* :class:`StandardWebhookVerifier` / :class:`StandardWebhookSigner`: the Standard Webhooks
  format (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; HMAC ``v1`` and
  Ed25519 ``v1a``), checked over the raw bytes before anything parses them;
* :class:`CallbackTokens`: per-job ``/callbacks/{token}`` URLs for senders that cannot sign;
* :class:`CallbackBindings`: which job a submission's token stands for, shared by both sides.
"""

from fastwait.exceptions import (
    BadCallbackToken,
    MalformedHeader,
    SignatureMismatch,
    TimestampOutOfTolerance,
)
from fastwait.webhooks._callback_bindings import CallbackBindings
from fastwait.webhooks._callback_tokens import MAX_TOKEN_LENGTH, CallbackClaim, CallbackTokens
from fastwait.webhooks._signatures import (
    MAX_SIGNATURES,
    StandardWebhookSigner,
    StandardWebhookVerifier,
    generate_secret,
    generate_signing_key,
)

__all__ = [
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
