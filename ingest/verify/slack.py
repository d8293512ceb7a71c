"""Slack: `X-Slack-Signature: v0=<hex>` of "v0:<X-Slack-Request-Timestamp>:<body>"."""

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


def verify(request: SignedRequest, options: Any, now: float) -> None:
    signature = request.require("x-slack-signature")
    timestamp = request.require("x-slack-request-timestamp")
    check_timestamp(timestamp, now, options.tolerance)
    base = b"v0:" + timestamp.encode() + b":" + request.body
    expected = [b"v0=" + hmac_digest(s.encode(), base).hex().encode()
                for s in secret_values(options)]
    if not matches_any(expected, [signature.encode()]):
        raise VerificationError("bad_signature")


def sign(options: Any, body: bytes, *, timestamp: int | None = None, **_: Any) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac_digest(secret_values(options)[0].encode(), base).hex()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(timestamp)}
