"""Signature verification: a few verifiers, and every provider preset a configuration of
one of them (routing.presets turns a source's `verify` into the options it runs with).

- custom: HMAC / Ed25519 / ECDSA / shared token over a described layout (Stripe, GitHub,
  Slack, Shopify, Zoom, Meta, Square, Paddle, Discord, SendGrid, ... and `scheme: hmac`);
- standard: Standard Webhooks (Svix, Clerk, Resend, OpenAI);
- twilio: URL + sorted form parameters; jwt: JWTs (Google Pub/Sub's OIDC tokens);
- mailgun and msgraph: the proof travels in the body; plaid: JWT keys from Plaid's API.

`build_verifier(spec, keys)` gives a source its `Verifier` once; `verify()`, `sign()` and
`refresh_body()` here take a spec as written in a config, for replay and tests.
"""

from __future__ import annotations

import time
from typing import Any

from routing.presets import verifier_options

from ._base import SignedRequest, VerificationError
from ._verifier import Verifier
from .custom import CustomVerifier
from .jwt import JwtVerifier
from .keys import KeyCache
from .mailgun import MailgunVerifier
from .msgraph import MsGraphVerifier
from .none import NoVerifier
from .plaid import PlaidVerifier
from .standard import StandardVerifier
from .twilio import TwilioVerifier

VERIFIERS: dict[str, type[Verifier[Any]]] = {
    "custom": CustomVerifier,
    "twilio": TwilioVerifier,
    **dict.fromkeys(("standard", "svix", "clerk", "resend", "openai"), StandardVerifier),
    "mailgun": MailgunVerifier,
    "msgraph": MsGraphVerifier,
    "plaid": PlaidVerifier,
    "jwt": JwtVerifier,
    "none": NoVerifier,
}
"""The verifier for each scheme that verifier options can name (presets arrive as the
options of the verifier they are built on)."""

# Header values that must never be stored or logged.
SIGNATURE_HEADERS = frozenset({
    "stripe-signature", "x-hub-signature", "x-hub-signature-256", "x-slack-signature",
    "x-shopify-hmac-sha256", "x-twilio-signature", "webhook-signature", "svix-signature",
    "authorization", "cookie", "x-signature", "proxy-authorization", "plaid-verification",
    "x-gitlab-token",
})


def build_verifier(spec: Any, keys: KeyCache | None = None) -> Verifier[Any]:
    """The verifier of a source's `verify` spec (or of verifier options already made)."""
    options = verifier_options(spec)
    return VERIFIERS[options.scheme](options, keys or KeyCache())


async def verify(request: SignedRequest, spec: Any, now: float | None = None, *,
                 keys: KeyCache | None = None) -> None:
    """Verify one request with a spec; pass `keys` to keep fetched keys between calls."""
    await build_verifier(spec, keys).verify(request, time.time() if now is None else now)


def sign(spec: Any, body: bytes, **kwargs: Any) -> dict[str, str]:
    return build_verifier(spec).sign(body, **kwargs)


def refresh_body(spec: Any, body: bytes, timestamp: int) -> bytes:
    """The body to re-sign: unchanged unless the provider signs a time inside it."""
    return build_verifier(spec).refresh_body(body, timestamp)


def sensitive_headers(verifier: Verifier[Any]) -> frozenset[str]:
    """Headers to redact for a source: the well-known ones plus the scheme's own."""
    return SIGNATURE_HEADERS | {h.lower() for h in verifier.header_names() if h}


__all__ = ["VERIFIERS", "KeyCache", "SignedRequest", "VerificationError", "Verifier",
           "build_verifier", "refresh_body", "sensitive_headers", "sign", "verify"]
