"""Generic HMAC: a header holding `<prefix><digest>` of a signed-content template.

`signed_content` may combine {body}, {timestamp} (from timestamp_header, checked against
the tolerance), {id} (from id_header) and {url}.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ._base import (
    SignedRequest,
    VerificationError,
    b64,
    check_timestamp,
    hmac_digest,
    matches_any,
    secret_values,
)

_PLACEHOLDER = re.compile(r"\{(body|timestamp|id|url)\}")


def _content(template: str, values: dict[str, bytes]) -> bytes:
    parts = _PLACEHOLDER.split(template)
    # split() alternates literal text and placeholder names.
    return b"".join(values[part] if index % 2 else part.encode()
                    for index, part in enumerate(parts))


def _encode(digest: bytes, encoding: str) -> bytes:
    return (digest.hex() if encoding == "hex" else b64(digest)).encode()


def _values(request: SignedRequest, options: Any, now: float | None) -> dict[str, bytes]:
    values = {"body": request.body, "url": request.url.encode(), "timestamp": b"", "id": b""}
    if options.timestamp_header:
        timestamp = request.require(options.timestamp_header)
        if now is not None:
            check_timestamp(timestamp, now, options.tolerance)
        values["timestamp"] = timestamp.encode()
    if options.id_header:
        values["id"] = request.require(options.id_header).encode()
    return values


def verify(request: SignedRequest, options: Any, now: float) -> None:
    value = request.require(options.header)
    if options.prefix and not value.startswith(options.prefix):
        raise VerificationError("malformed_signature", f"expected the {options.prefix!r} prefix")
    candidate = value[len(options.prefix):].strip()
    content = _content(options.signed_content, _values(request, options, now))
    expected = [_encode(hmac_digest(s.encode(), content, options.algorithm), options.encoding)
                for s in secret_values(options)]
    candidates = [candidate.encode(), candidate.lower().encode()] if options.encoding == "hex" \
        else [candidate.encode()]
    if not matches_any(expected, candidates):
        raise VerificationError("bad_signature")


def sign(options: Any, body: bytes, *, timestamp: int | None = None, url: str = "",
         message_id: str | None = None, **_: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    if options.timestamp_header:
        headers[options.timestamp_header] = str(int(time.time()) if timestamp is None
                                                else timestamp)
    if options.id_header:
        headers[options.id_header] = message_id or f"id-{time.time_ns()}"
    request = SignedRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, url=url)
    content = _content(options.signed_content, _values(request, options, None))
    digest = hmac_digest(secret_values(options)[0].encode(), content, options.algorithm)
    headers[options.header] = options.prefix + _encode(digest, options.encoding).decode()
    return headers
