"""Signal and Record payloads as Erlang terms (erlpack), with the checks erlpack lacks.

erlpack silently turns tuples into Erlang tuples, str into binaries and overflows with a
bare C error; waitpoint promises that what a caller stores comes back equal, so values are
checked before encoding and strings are decoded back to str.
"""

from __future__ import annotations

import base64
from typing import Any

import erlpack

MAX_PAYLOAD_BYTES = 256 * 1024
"""Default size limit of one encoded payload (signals and recorded values)."""
MAX_DEPTH = 64
"""Deepest nesting of lists and dicts in a payload (erlpack and the checks recurse)."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_decoder = erlpack.ErlangTermDecoder(encoding="utf-8")


def _check(value: Any, path: str, depth: int = 1) -> None:
    if value is None or isinstance(value, bool | float):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"payload{path}: a string holds a lone surrogate (not UTF-8)"
                             ) from None
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise TypeError(f"payload{path}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, list | dict) and depth > MAX_DEPTH:
        raise ValueError(f"payload{path[:40]}...: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"payload{path}: dict keys must be str, got {type(key).__name__}")
            _check(key, f"{path} key", depth)
            _check(item, f"{path}[{key!r}]", depth + 1)
        return
    raise TypeError(
        f"payload{path}: {type(value).__name__} cannot be stored; use None, bool, int, float, "
        "str, list or dict with str keys"
    )


def encode(value: Any, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """Encode a payload, raising TypeError/ValueError (nothing stored) when it cannot be."""
    _check(value, "")
    try:
        data: bytes = erlpack.pack(value)
    except Exception as error:  # erlpack's EncodingError and friends: the documented answer
        raise ValueError(f"payload cannot be encoded: {error}") from None
    if len(data) > limit:
        raise ValueError(f"payload is {len(data)} bytes encoded, over the {limit} byte limit")
    return data


def decode(data: bytes) -> Any:
    return _decoder.loads(bytes(data))


def encode_text(value: Any, limit: int = MAX_PAYLOAD_BYTES) -> str:
    """Encode for a JSON field (job meta): erlpack bytes as base64."""
    return base64.b64encode(encode(value, limit)).decode("ascii")


def decode_text(text: str) -> Any:
    return decode(base64.b64decode(text))
