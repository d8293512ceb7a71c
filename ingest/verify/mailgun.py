"""Mailgun: the signature travels in the body, not in a header.

Webhooks post JSON with `signature: {timestamp, token, signature}`; routes and legacy
webhooks post a form with the same three fields. The signature is HMAC-SHA256 (hex) of
"<timestamp><token>" with the HTTP webhook signing key.
"""

from __future__ import annotations

import json
import re
import secrets as tokens
import time
from typing import Any
from urllib.parse import parse_qsl

from routing.schemes import TimedSecretScheme

from ._base import (
    SignedRequest,
    VerificationError,
    check_timestamp,
    hmac_digest,
    matches_any,
    secret_values,
)
from ._verifier import Verifier


def _fields(body: bytes) -> dict[str, str]:
    if body[:1] == b"{":
        try:
            signature = json.loads(body).get("signature")
        except (ValueError, AttributeError):
            signature = None
        return {k: str(v) for k, v in signature.items()} if isinstance(signature, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def signature_fields(options: Any, timestamp: int | None = None,
                     token: str | None = None) -> dict[str, str]:
    """The `signature` object Mailgun puts in the body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or tokens.token_hex(25)
    digest = hmac_digest(secret_values(options)[0].encode(), (stamp + token).encode()).hex()
    return {"timestamp": stamp, "token": token, "signature": digest}


class MailgunVerifier(Verifier[TimedSecretScheme]):
    def replay_token(self, request: SignedRequest) -> bytes | None:
        """The token: the signature covers it and the timestamp, not the body, so a body
        swapped under a captured signature is refused by remembering the token."""
        token = _fields(request.body).get("token")
        return token.encode() if token else None

    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        fields = _fields(request.body)
        if not all(fields.get(name) for name in ("timestamp", "token", "signature")):
            raise VerificationError("missing_signature",
                                    "no signature.timestamp, token and signature in the body")
        assert options.tolerance is not None  # filled from the preset (verifier_options)
        check_timestamp(fields["timestamp"], now, options.tolerance)
        content = (fields["timestamp"] + fields["token"]).encode()
        expected = [hmac_digest(s.encode(), content).hex().encode() for s in secret_values(options)]
        if not matches_any(expected, [fields["signature"].lower().encode()]):
            raise VerificationError("bad_signature")

    def sign(self, body: bytes, **_: Any) -> dict[str, str]:
        """Mailgun signs inside the body (see refresh_body and signature_fields): no headers."""
        return {}

    def refresh_body(self, body: bytes, timestamp: int) -> bytes:
        """A JSON body with a fresh `signature` object (the rest unchanged, byte for byte)."""
        options = self.options
        fresh = json.dumps(signature_fields(options, timestamp)).encode()
        pattern = re.compile(rb'"signature"\s*:\s*\{[^{}]*\}')
        return pattern.sub(lambda _m: b'"signature": ' + fresh, body, count=1)
