"""Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of "<t>.<body>"."""

from __future__ import annotations

import time
from typing import Any

from ._base import (
    SignedRequest,
    VerificationError,
    check_timestamp,
    hmac_digest,
    matches_any,
    secret_values,
)

HEADER = "stripe-signature"


def verify(request: SignedRequest, options: Any, now: float) -> None:
    fields: dict[str, list[str]] = {}
    for part in request.require(HEADER).split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    if "t" not in fields or not fields.get("v1"):
        raise VerificationError("malformed_signature", "needs t= and v1= entries")
    timestamp = fields["t"][0]
    check_timestamp(timestamp, now, options.tolerance)
    signed = timestamp.encode() + b"." + request.body
    expected = [hmac_digest(secret.encode(), signed).hex().encode()
                for secret in secret_values(options)]
    if not matches_any(expected, [v.encode() for v in fields["v1"]]):
        raise VerificationError("bad_signature")


def sign(options: Any, body: bytes, *, timestamp: int | None = None, url: str = "",
         **_: Any) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = secret_values(options)[0]
    digest = hmac_digest(secret.encode(), f"{timestamp}.".encode() + body).hex()
    return {"Stripe-Signature": f"t={timestamp},v1={digest}"}
