"""The verifier for `scheme: custom`, and for every preset that is a recipe of it
(routing.presets): HMAC, Ed25519 or ECDSA signatures, or a shared token.

The signature header holds `<prefix><signature>` or key=value pairs (`t=...,v1=...`); the
signed content is a template of {body}, {timestamp}, {id} and {url}. The time comes from a
header, from the pairs, or from a field of the JSON body, and is checked against the
tolerance before any signature work.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from routing.schemes import CustomScheme, load_public_key

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

_PLACEHOLDER = re.compile(r"\{(body|timestamp|id|url)\}")


def _content(template: str, values: dict[str, bytes]) -> bytes:
    parts = _PLACEHOLDER.split(template)
    # split() alternates literal text and placeholder names.
    return b"".join(values[part] if index % 2 else part.encode()
                    for index, part in enumerate(parts))


def _entries(request: SignedRequest, options: CustomScheme) -> tuple[list[str], str | None]:
    """The signatures found in the header(s), and the timestamp the pairs carry."""
    values = [value for name in options.headers if (value := request.header(name))]
    if not values:
        raise VerificationError("missing_signature", f"no {options.headers[0]} header")
    signatures: list[str] = []
    timestamp: str | None = None
    for value in values:
        if options.pairs is None:
            if options.prefix and not value.startswith(options.prefix):
                raise VerificationError("malformed_signature",
                                        f"expected the {options.prefix!r} prefix")
            signatures.append(value[len(options.prefix):].strip())
            continue
        for part in value.split(options.pairs.separator):
            key, _, entry = part.strip().partition("=")
            if key == options.pairs.signature:
                signatures.append(entry)
            elif key == options.pairs.timestamp and timestamp is None:
                timestamp = entry
    if not any(signatures):
        raise VerificationError("malformed_signature", "no signature entry")
    return signatures, timestamp


def _timestamp(request: SignedRequest, options: CustomScheme, from_pairs: str | None) -> str:
    if options.timestamp_header:
        return request.require(options.timestamp_header)
    if from_pairs is not None:
        return from_pairs
    if options.pairs is not None and options.pairs.timestamp:
        raise VerificationError("malformed_signature", f"no {options.pairs.timestamp}= entry")
    return ""


def _body_timestamp(request: SignedRequest, field: str) -> str:
    try:
        value = json.loads(request.body).get(field)
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        raise VerificationError("missing_signature", f"no {field} in the body")
    return str(int(float(value)))


def _check_time(request: SignedRequest, options: CustomScheme, timestamp: str,
                now: float) -> None:
    scale = 1000 if options.timestamp_unit == "ms" else 1
    if options.timestamp_field:
        body_time = _body_timestamp(request, options.timestamp_field)
        check_timestamp(body_time, now * scale, options.tolerance * scale)
    if timestamp:
        check_timestamp(timestamp, now * scale, options.tolerance * scale)


def _decode(signature: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(signature)
        return base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return None


def _public_key_verifies(options: CustomScheme, signature: bytes, content: bytes) -> bool:
    for text in options.public_keys:
        key = load_public_key(text, options.algorithm)
        try:
            if options.algorithm == "ed25519":
                key.verify(signature, content)
            else:
                key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            continue
    return False


def _encode(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else b64(digest)


def _private_key(private_key: Any) -> Any:
    if isinstance(private_key, str | bytes):
        text = private_key.encode() if isinstance(private_key, str) else private_key
        return load_pem_private_key(text, password=None)
    return private_key


class CustomVerifier(Verifier[CustomScheme]):
    def signed_url(self, path_qs: Callable[[], str], request_url: Callable[[], str]) -> str:
        if "{url}" not in self.options.signed_content:
            return ""
        return self.options.url or request_url()

    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        signatures, pair_timestamp = _entries(request, options)
        if options.algorithm == "token":
            expected = [secret.encode() for secret in secret_values(options)]
            if not matches_any(expected, [s.encode() for s in signatures]):
                raise VerificationError("bad_signature", "the token does not match")
            return
        timestamp = _timestamp(request, options, pair_timestamp)
        _check_time(request, options, timestamp, now)
        content = _content(options.signed_content, {
            "body": request.body, "timestamp": timestamp.encode(), "url": request.url.encode(),
            "id": request.require(options.id_header).encode() if options.id_header else b""})
        if options.public_key:
            decoded = [d for s in signatures if (d := _decode(s, options.encoding)) is not None]
            if not any(_public_key_verifies(options, d, content) for d in decoded):
                raise VerificationError("bad_signature")
            return
        algorithm = options.algorithm.removeprefix("hmac-")
        expected = [_encode(hmac_digest(s.encode(), content, algorithm), options.encoding).encode()
                    for s in secret_values(options)]
        candidates = [s.encode() for s in signatures]
        if options.encoding == "hex":
            candidates += [s.lower().encode() for s in signatures]
        if not matches_any(expected, candidates):
            raise VerificationError("bad_signature")

    def sign(self, body: bytes, *, timestamp: int | None = None, url: str = "",
         message_id: str | None = None, private_key: Any = None, **_: Any) -> dict[str, str]:
        """The headers the provider would send. Ed25519 and ECDSA need the `private_key`."""
        options = self.options
        header = options.headers[0]
        if options.algorithm == "token":
            return {header: options.prefix + secret_values(options)[0]}
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers: dict[str, str] = {}
        stamp = str(timestamp)
        if options.timestamp_header:
            headers[options.timestamp_header] = stamp
        if options.id_header:
            headers[options.id_header] = message_id or f"id-{time.time_ns()}"
        content = _content(options.signed_content, {
            "body": body, "timestamp": stamp.encode(), "url": (options.url or url).encode(),
            "id": headers.get(options.id_header or "", "").encode()})
        if options.public_key:
            if private_key is None:
                raise ValueError(f"signing {options.algorithm} needs the provider's private key")
            key = _private_key(private_key)
            if isinstance(key, ed25519.Ed25519PrivateKey):
                raw = key.sign(content)
            else:
                raw = key.sign(content, ec.ECDSA(hashes.SHA256()))
            signature = _encode(raw, options.encoding)
        else:
            digest = hmac_digest(secret_values(options)[0].encode(), content,
                                 options.algorithm.removeprefix("hmac-"))
            signature = _encode(digest, options.encoding)
        if options.pairs is None:
            headers[header] = options.prefix + signature
        else:
            pairs = options.pairs
            entries = ([f"{pairs.timestamp}={stamp}"] if pairs.timestamp else []) + \
                [f"{pairs.signature}={signature}"]
            headers[header] = pairs.separator.join(entries)
        return headers

    def refresh_body(self, body: bytes, timestamp: int) -> bytes:
        """The body with its send time set to `timestamp`, for schemes that sign a time carried
        in the body (Linear): a re-signed replay must carry a fresh one."""
        options = self.options
        if not options.timestamp_field:
            return body
        value = timestamp * (1000 if options.timestamp_unit == "ms" else 1)
        pattern = re.compile(rb'("' + re.escape(options.timestamp_field.encode()) + rb'"\s*:\s*)'
                             rb'"?\d+(\.\d+)?"?')
        return pattern.sub(lambda m: m.group(1) + str(value).encode(), body, count=1)
