"""Shopify: `X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(body))`."""

from __future__ import annotations

from typing import Any

from ._base import SignedRequest, VerificationError, b64, hmac_digest, matches_any, secret_values


def verify(request: SignedRequest, options: Any, now: float) -> None:
    value = request.require("x-shopify-hmac-sha256")
    expected = [b64(hmac_digest(s.encode(), request.body)).encode()
                for s in secret_values(options)]
    if not matches_any(expected, [value.encode()]):
        raise VerificationError("bad_signature")


def sign(options: Any, body: bytes, **_: Any) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": b64(hmac_digest(secret_values(options)[0].encode(), body))}
