"""Signature verification: one module per scheme, found through one registry.

Each module has `verify(request, options, now)` (raises VerificationError) and
`sign(options, body, ...)` (the headers the provider would send, for replay and tests);
a module may add `async prepare(request, options)` for work that needs IO (JWKS fetch).
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from . import generic_hmac, github, jwt, none, shopify, slack, standard, stripe, twilio
from ._base import SignedRequest, VerificationError

VERIFIERS: dict[str, ModuleType] = {
    "stripe": stripe,
    "github": github,
    "slack": slack,
    "shopify": shopify,
    "twilio": twilio,
    "standard": standard,
    "hmac": generic_hmac,
    "jwt": jwt,
    "none": none,
}

# Header values that must never be stored or logged.
SIGNATURE_HEADERS = frozenset({
    "stripe-signature", "x-hub-signature", "x-hub-signature-256", "x-slack-signature",
    "x-shopify-hmac-sha256", "x-twilio-signature", "webhook-signature", "svix-signature",
    "authorization", "cookie", "x-signature", "proxy-authorization",
})


async def verify(request: SignedRequest, options: Any, now: float | None = None) -> None:
    module = VERIFIERS[options.scheme]
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        await prepare(request, options)
    module.verify(request, options, time.time() if now is None else now)


def sign(options: Any, body: bytes, **kwargs: Any) -> dict[str, str]:
    return VERIFIERS[options.scheme].sign(options, body, **kwargs)


def sensitive_headers(options: Any) -> frozenset[str]:
    """Headers to redact for a source: the well-known ones plus the scheme's own."""
    extra = {getattr(options, "header", None) or ""}
    return SIGNATURE_HEADERS | {h.lower() for h in extra if h}


__all__ = ["VERIFIERS", "SignedRequest", "VerificationError", "sensitive_headers", "sign",
           "verify"]
