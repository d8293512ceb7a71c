"""Signature verification: one module per verifier, found through one registry.

Each module has `verify(request, options, now)` (raises VerificationError) and
`sign(options, body, ...)` (the headers the provider would send, for replay and tests);
a module may add `async prepare(request, options)` for work that needs IO (key fetches)
and `refresh_body(options, body, timestamp)` when the provider signs a time carried in
the body. `options` is what routing.presets.verifier_options() made of the source's
`verify` (CompiledSource.verifier): presets built on a generic verifier arrive as its
options, so the registry is keyed by what options.scheme says.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from routing.presets import verifier_options

from . import (
    custom,
    github,
    jwt,
    mailgun,
    msgraph,
    none,
    plaid,
    shopify,
    slack,
    standard,
    stripe,
    twilio,
)
from ._base import SignedRequest, VerificationError

VERIFIERS: dict[str, ModuleType] = {
    "stripe": stripe,
    "github": github,
    "slack": slack,
    "shopify": shopify,
    "twilio": twilio,
    **dict.fromkeys(("standard", "svix", "clerk", "resend", "openai"), standard),
    "mailgun": mailgun,
    "msgraph": msgraph,
    "plaid": plaid,
    "custom": custom,
    "jwt": jwt,
    "none": none,
}

# Header values that must never be stored or logged.
SIGNATURE_HEADERS = frozenset({
    "stripe-signature", "x-hub-signature", "x-hub-signature-256", "x-slack-signature",
    "x-shopify-hmac-sha256", "x-twilio-signature", "webhook-signature", "svix-signature",
    "authorization", "cookie", "x-signature", "proxy-authorization", "plaid-verification",
    "x-gitlab-token",
})


async def verify(request: SignedRequest, options: Any, now: float | None = None) -> None:
    """Verify with a source's verifier options, or with a `verify` spec as written in a
    config (a preset is expanded first; the receiver passes CompiledSource.verifier)."""
    options = verifier_options(options)
    module = VERIFIERS[options.scheme]
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        await prepare(request, options)
    module.verify(request, options, time.time() if now is None else now)


def sign(options: Any, body: bytes, **kwargs: Any) -> dict[str, str]:
    options = verifier_options(options)
    return VERIFIERS[options.scheme].sign(options, body, **kwargs)


def refresh_body(options: Any, body: bytes, timestamp: int) -> bytes:
    """The body to re-sign: unchanged unless the provider signs a time inside it."""
    options = verifier_options(options)
    refresh = getattr(VERIFIERS[options.scheme], "refresh_body", None)
    return body if refresh is None else refresh(options, body, timestamp)


def sensitive_headers(options: Any) -> frozenset[str]:
    """Headers to redact for a source: the well-known ones plus the scheme's own."""
    options = verifier_options(options)
    header = getattr(options, "header", None) or ()
    extra = (header,) if isinstance(header, str) else tuple(header)
    return SIGNATURE_HEADERS | {h.lower() for h in extra if h}


__all__ = ["VERIFIERS", "SignedRequest", "VerificationError", "refresh_body",
           "sensitive_headers", "sign", "verify"]
