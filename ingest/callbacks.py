"""Per-job callback URLs, for APIs that take a callback URL per request (e-signature, KYC,
transcription): a signed, expiring URL whose POST signals the job that minted it, with no
routing config.

>>> url = await callback_url(wait_for=3600)       # inside process()
>>> await esign.send(document, callback=url)
>>> result = await await_signal(wait_for=3600)
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Any

import jwt
from aiohttp import web

import routing
from waitpoint import _codec
from waitpoint._signals import current_execution

DEFAULT_PATH = "/callbacks/signal"
DEFAULT_LIFETIME = 7 * 86_400


class CallbackSigner:
    """Mints and reads callback tokens: HS256 JWTs holding the job id (or key) and expiry."""

    def __init__(self, secret: str, public_url: str, path: str = DEFAULT_PATH) -> None:
        if len(secret) < 32:
            raise ValueError("callbacks secret: use at least 32 characters")
        self._secret = secret
        self.public_url = public_url.rstrip("/")
        self.path = path

    def __repr__(self) -> str:
        return f"CallbackSigner(public_url={self.public_url!r}, path={self.path!r})"

    def mint(self, job_id: int, wait_for: float | None = None, key: str | None = None) -> str:
        claims: dict[str, Any] = {"job": job_id, "jti": uuid.uuid4().hex,
                                  "exp": int(time.time() + (wait_for or DEFAULT_LIFETIME))}
        if key is not None:
            claims["key"] = key
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        return f"{self.public_url}{self.path}/{token}"

    def read(self, token: str) -> dict[str, Any]:
        return jwt.decode(token, self._secret, algorithms=["HS256"],
                          options={"require": ["exp", "job", "jti"]})


_signer: CallbackSigner | None = None


def configure_callbacks(signer: CallbackSigner | None) -> None:
    """Set the signer that callback_url() uses in this process."""
    global _signer
    _signer = signer


def signer_from_env() -> CallbackSigner | None:
    secret = os.environ.get("WAITPOINT_CALLBACK_SECRET")
    public_url = os.environ.get("WAITPOINT_PUBLIC_URL")
    return CallbackSigner(secret, public_url) if secret and public_url else None


async def callback_url(wait_for: float | None = None, key: str | None = None) -> str:
    """A URL on the receiver whose POST signals the running job (or `key`'s waiters)."""
    execution = current_execution.get()
    if execution is None:
        raise RuntimeError("callback_url() can only be called inside a job's process()")
    signer = _signer or signer_from_env()
    if signer is None:
        raise RuntimeError("callback URLs are not configured: set WAITPOINT_CALLBACK_SECRET "
                           "and WAITPOINT_PUBLIC_URL, or `callbacks:` in the routing config")
    assert execution.job.id is not None
    return signer.mint(execution.job.id, wait_for, key)


async def handle_callback(request: web.Request) -> web.Response:
    from .app import RECEIVER, error_response, read_body
    from .inbox import DatabaseUnavailable, EventRecord

    receiver = request.app[RECEIVER]
    assert receiver.callbacks is not None
    body = await read_body(request, receiver)
    if body is None:
        return error_response(413, "too_large")
    try:
        claims = receiver.callbacks.read(request.match_info["token"])
    except jwt.ExpiredSignatureError:
        return error_response(401, "expired")
    except jwt.PyJWTError:
        return error_response(401, "bad_signature")
    try:
        payload = routing.parse_body(body, request.headers.get("content-type"))
        encoded = _codec.encode(payload)
    except routing.BodyError as error:
        return error_response(400, "malformed_body", str(error))
    except (TypeError, ValueError) as error:
        return error_response(422, "payload_error", str(error))
    target: dict[str, Any] = ({"key": claims["key"]} if "key" in claims
                              else {"jobs": [claims["job"]]})
    record = EventRecord(
        source="callback", delivery_id=f"{claims['jti']}:{hashlib.sha256(body).hexdigest()}",
        body=body, outcome="routed", method=request.method, path=receiver.callbacks.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        deliveries=[{"route": "callback-url", **target, "payload": encoded}],
    )
    try:
        stored = await receiver.inbox.submit(record)
    except DatabaseUnavailable:
        return error_response(503, "database_unavailable", headers={"Retry-After": "5"})
    reached = sum(len(s.get("reached", [])) for s in stored.signals)
    outcome = "duplicate" if stored.duplicate else ("routed" if reached or "key" in claims
                                                    else "job_finished")
    return web.json_response({"event_id": stored.event_id, "outcome": outcome,
                              "signals": reached, "duplicate": stored.duplicate})
