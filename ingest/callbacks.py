"""Per-job callback URLs, for APIs that take a callback URL per request (e-signature, KYC,
transcription): a signed, expiring URL whose POST signals the job that minted it, with no
routing config.

>>> url = await callback_url(wait_for=3600)       # inside process()
>>> await esign.send(document, callback=url)
>>> result = await await_signal(wait_for=3600)
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import jwt

import routing
from waitpoint import current_job

DEFAULT_LIFETIME = 7 * 86_400


class CallbackSigner:
    """Mints and reads callback tokens: HS256 JWTs holding the job id (or key) and expiry."""

    def __init__(self, secret: str, public_url: str,
                 path: str = routing.DEFAULT_CALLBACK_PATH) -> None:
        if len(secret) < 32:
            raise ValueError("callbacks secret: use at least 32 characters")
        self._secret = secret
        self.public_url = public_url.rstrip("/")
        self.path = path

    def __repr__(self) -> str:
        return f"CallbackSigner(public_url={self.public_url!r}, path={self.path!r})"

    def mint(self, job_id: int, wait_for: float | None = None, key: str | None = None,
             multi_use: bool = False) -> str:
        """A URL that signals once (its token's id is the event's delivery id: a second
        POST is answered 200 `duplicate` and signals nothing), or, `multi_use`, once per
        distinct body until it expires, for APIs that call back several times."""
        claims: dict[str, Any] = {"job": job_id, "jti": uuid.uuid4().hex,
                                  "exp": int(time.time() + (wait_for or DEFAULT_LIFETIME))}
        if key is not None:
            claims["key"] = key
        if multi_use:
            claims["multi"] = True
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        return f"{self.public_url}{self.path}/{token}"

    def read(self, token: str) -> dict[str, Any]:
        """The claims of a token this signer minted; raises pyjwt's errors otherwise."""
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


async def callback_url(wait_for: float | None = None, key: str | None = None, *,
                       multi_use: bool = False) -> str:
    """A URL on the receiver whose POST signals the running job (or `key`'s waiters):
    once, or once per distinct body with `multi_use` (see CallbackSigner.mint)."""
    job = current_job()
    if job is None or job.id is None:
        raise RuntimeError("callback_url() can only be called inside a job's process()")
    signer = _signer or signer_from_env()
    if signer is None:
        raise RuntimeError("callback URLs are not configured: set WAITPOINT_CALLBACK_SECRET "
                           "and WAITPOINT_PUBLIC_URL, or `callbacks:` in the routing config")
    return signer.mint(job.id, wait_for, key, multi_use)
