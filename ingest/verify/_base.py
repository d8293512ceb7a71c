"""What every verifier shares: the request it sees, the error it raises, the helpers."""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class VerificationError(Exception):
    """The request is not from who it claims (401). `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SignedRequest:
    """The raw request as received: verification runs over these exact bytes."""

    body: bytes
    headers: Mapping[str, str]  # lower-cased names
    url: str = ""  # the public URL the provider called, when a scheme signs it
    method: str = "POST"
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def require(self, name: str) -> str:
        value = self.header(name)
        if not value:
            raise VerificationError("missing_signature", f"no {name} header")
        return value


def secret_values(options: Any) -> list[str]:
    return [secret.get_secret_value() for secret in options.secrets]


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    # hmac.digest() with a digest name is OpenSSL's one-shot path: several times faster
    # per call than hmac.new(...).digest(), and this runs for every secret of every request.
    return hmac.digest(key, message, algorithm)


def matches_any(expected: Iterable[bytes], candidates: Iterable[bytes]) -> bool:
    """Constant-time comparison of every expected value against every candidate; it does
    not stop at the first match, so timing does not tell which secret or entry matched."""
    found = False
    for wanted in expected:
        for candidate in candidates:
            found |= hmac.compare_digest(wanted, candidate)
    return found


_TIMESTAMP = re.compile(r"[0-9]{1,16}")
"""ASCII digits only: int() also takes '1_795_000_000', ' 17', '+17' and other digits."""


def check_timestamp(timestamp: str, now: float, tolerance: int) -> int:
    if not _TIMESTAMP.fullmatch(timestamp):
        raise VerificationError("malformed_signature", "timestamp is not an integer")
    value = int(timestamp)
    if abs(now - value) > tolerance:
        raise VerificationError("stale_timestamp",
                                f"timestamp is {int(now - value)} s off (tolerance {tolerance} s)")
    return value


def key_source(url: str) -> str:
    """A key URL as it may be shown in an answer or a log line: scheme, host and path,
    never a query string or credentials that could carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

