"""Standard Webhooks (Svix and the providers built on it).

`webhook-signature: v1,<base64> [v1,<base64> ...]` is HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<body>" with the key in the `whsec_` secret. Svix's
`svix-*` header names are accepted too.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from routing.schemes import StandardScheme

from ._base import (
    SignedRequest,
    VerificationError,
    b64,
    check_timestamp,
    hmac_digest,
    matches_any,
    secret_values,
)
from ._verifier import Verifier


def secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return secret.encode()  # not a whsec_ secret: some providers use the raw string


def _header(request: SignedRequest, name: str) -> str:
    value = request.header(f"webhook-{name}") or request.header(f"svix-{name}")
    if not value:
        raise VerificationError("missing_signature", f"no webhook-{name} header")
    return value


class StandardVerifier(Verifier[StandardScheme]):
    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        message_id = _header(request, "id")
        timestamp = _header(request, "timestamp")
        signatures = _header(request, "signature")
        check_timestamp(timestamp, now, options.tolerance or 300)
        signed = f"{message_id}.{timestamp}.".encode() + request.body
        candidates = [entry.partition(",")[2].encode() for entry in signatures.split()
                      if entry.startswith("v1,")]
        if not candidates:
            raise VerificationError("malformed_signature", "no v1 signature")
        expected = [b64(hmac_digest(secret_key(s), signed)).encode()
                    for s in secret_values(options)]
        if not matches_any(expected, candidates):
            raise VerificationError("bad_signature")

    def sign(self, body: bytes, *, timestamp: int | None = None,
         message_id: str | None = None, **_: Any) -> dict[str, str]:
        options = self.options
        timestamp = int(time.time()) if timestamp is None else timestamp
        message_id = message_id or f"msg_{time.time_ns()}"
        signed = f"{message_id}.{timestamp}.".encode() + body
        signature = b64(hmac_digest(secret_key(secret_values(options)[0]), signed))
        return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": f"v1,{signature}"}
