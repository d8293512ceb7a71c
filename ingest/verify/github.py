"""GitHub: `X-Hub-Signature-256: sha256=<hex>` of the body. GitHub signs no timestamp."""

from __future__ import annotations

from typing import Any

from ._base import SignedRequest, VerificationError, hmac_digest, matches_any, secret_values

HEADER = "x-hub-signature-256"


def verify(request: SignedRequest, options: Any, now: float) -> None:
    value = request.require(HEADER)
    if not value.startswith("sha256="):
        raise VerificationError("malformed_signature", "expected sha256=<hex>")
    expected = [b"sha256=" + hmac_digest(s.encode(), request.body).hex().encode()
                for s in secret_values(options)]
    if not matches_any(expected, [value.encode()]):
        raise VerificationError("bad_signature")


def sign(options: Any, body: bytes, **_: Any) -> dict[str, str]:
    digest = hmac_digest(secret_values(options)[0].encode(), body).hex()
    return {"X-Hub-Signature-256": f"sha256={digest}"}
