"""Plaid: `Plaid-Verification` is a JWT (ES256 only) whose `request_body_sha256` claim is
the body's SHA-256 and whose `iat` must be recent (max_age, default 5 minutes).

The key is found by the token's `kid`: from a JWKS file, or fetched from Plaid's
`/webhook_verification_key/get` with the client id and secret, then cached for
KEY_CACHE_SECONDS (then asked again, so a key Plaid has since expired stops working). A
key Plaid reports as expired is not used. Unknown kids are fetched at most once per
REFETCH_AFTER_UNKNOWN_KID seconds each, so forged kids cannot make us hammer Plaid.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from functools import lru_cache
from typing import Any

import aiohttp
import jwt as pyjwt
import structlog

from routing.schemes import JwtScheme

from . import jwt
from ._base import SignedRequest, VerificationError

log = structlog.get_logger("ingest.verify.plaid")

HEADER = "plaid-verification"
REFETCH_AFTER_UNKNOWN_KID = 10.0
KEY_CACHE_SECONDS = 3600.0

_keys: dict[tuple[str, str], tuple[float, Any]] = {}  # (keys_url, kid) -> (fetched, key)
_last_fetch: dict[tuple[str, str], float] = {}
_lock = asyncio.Lock()


@lru_cache(maxsize=64)
def _token_options(max_age: int, jwks_file: str | None) -> JwtScheme:
    # Built without validation: with keys from Plaid's API it has no key source of its own.
    return JwtScheme.model_construct(scheme="jwt", algorithms=["ES256"], header=HEADER,
                                     jwks_file=jwks_file, max_age=max_age,
                                     required_claims=["iat"],
                                     body_hash_claim="request_body_sha256")


def _kid(request: SignedRequest, options: Any) -> tuple[str, str | None]:
    token = request.require(HEADER).strip()
    header = jwt.unverified_header(token, _token_options(options.max_age, options.jwks_file))
    return token, header.get("kid")


async def prepare(request: SignedRequest, options: Any) -> None:
    """Fetch the token's key from Plaid when it is not cached (and no JWKS file is set)."""
    if options.jwks_file:
        return
    try:
        _token, kid = _kid(request, options)
    except VerificationError:
        return  # verify() reports it
    if not kid:
        return
    cache_key = (options.keys_url, kid)
    if _fresh(cache_key):
        return
    async with _lock:
        if _fresh(cache_key) or \
                time.monotonic() - _last_fetch.get(cache_key, -1e9) < REFETCH_AFTER_UNKNOWN_KID:
            return
        _last_fetch[cache_key] = time.monotonic()
        try:
            found = await _fetch_key(options, kid)
        except VerificationError:
            if cache_key in _keys:
                log.warning("plaid.key_refresh_failed", kid=kid, using="the cached key")
                return
            raise
        if found is not None:
            _keys[cache_key] = (time.monotonic(), found)


def _fresh(cache_key: tuple[str, str]) -> bool:
    cached = _keys.get(cache_key)
    return cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS


async def _fetch_key(options: Any, kid: str) -> Any:
    body = {"client_id": options.client_id, "secret": options.secret.get_secret_value(),
            "key_id": kid}
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(options.keys_url, json=body) as response:
            if response.status == 400:
                return None  # Plaid does not know this kid
            response.raise_for_status()
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise VerificationError("keys_unavailable",
                                f"cannot fetch Plaid's key: {type(error).__name__}") from None
    key = answer.get("key") if isinstance(answer, dict) else None
    if not isinstance(key, dict):
        return None
    if key.get("expired_at") is not None:
        return _EXPIRED
    return pyjwt.PyJWK.from_dict(key).key


_EXPIRED = object()


def verify(request: SignedRequest, options: Any, now: float) -> None:
    token, kid = _kid(request, options)
    token_options = _token_options(options.max_age, options.jwks_file)
    if options.jwks_file:
        keys = jwt.candidate_keys(token_options, kid)
    else:
        key = _keys.get((options.keys_url, kid or ""), (0.0, None))[1]
        if key is _EXPIRED:
            raise VerificationError("unknown_key", f"Plaid reports key {kid!r} as expired")
        keys = [] if key is None else [key]
    jwt.check_token(request, token, keys, token_options, now)


def sign(options: Any, body: bytes, *, timestamp: int | None = None, private_key: Any = None,
         kid: str | None = None, **_: Any) -> dict[str, str]:
    """The header Plaid would send; needs the (test) `private_key` Plaid's key pairs with."""
    if private_key is None:
        raise ValueError("signing plaid needs the private key")
    claims = {"iat": int(time.time()) if timestamp is None else timestamp,
              "request_body_sha256": hashlib.sha256(body).hexdigest()}
    token = pyjwt.encode(claims, private_key, algorithm="ES256",
                         headers={"kid": kid} if kid else None)
    return {"Plaid-Verification": token}
