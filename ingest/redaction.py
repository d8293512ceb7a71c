"""What never reaches storage: credential and signature headers, and body fields that
carry a secret (Graph's clientState, or any field a source lists in redact_body_fields).

Verification runs over the raw bytes first; only the stored and recorded copies are
redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"


def redact_headers(headers: Mapping[str, str], sensitive: frozenset[str]) -> dict[str, str]:
    return {name: (REDACTED if name in sensitive else value) for name, value in headers.items()}


def redact_body(body: bytes, content_type: str | None, fields: frozenset[str]) -> bytes:
    """`body` with every field named in `fields` (at any depth of a JSON body, or a form
    field) replaced by "[redacted]". A body that is neither is stored as an empty body
    when fields must be redacted: the secret may be in it."""
    if not fields or not body:
        return body
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return urlencode([(k, REDACTED if k in fields else v) for k, v in pairs]).encode()
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return b""
    return json.dumps(_redact(value, fields), ensure_ascii=False).encode()


def _redact(value: Any, fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: (REDACTED if key in fields else _redact(item, fields))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, fields) for item in value]
    return value
