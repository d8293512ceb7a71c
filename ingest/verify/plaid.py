"""Plaid: `Plaid-Verification` is a JWT (ES256 only) whose `request_body_sha256` claim is
the body's SHA-256 and whose `iat` must be recent (max_age, default 5 minutes).

The key is found by the token's `kid`: from a JWKS file, or fetched from Plaid's
`/webhook_verification_key/get` with the client id and secret, then cached for
KEY_CACHE_SECONDS (then asked again, so a key Plaid has since expired stops working). A
key Plaid reports as expired is not used. Unknown kids are fetched at most once per
REFETCH_AFTER_UNKNOWN_KID seconds each, so forged kids cannot make us hammer Plaid.
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from typing import Any

import aiohttp
import jwt as pyjwt
import structlog

from routing.schemes import JwtScheme, PlaidScheme

from . import jwt
from ._base import SignedRequest, VerificationError, key_source
from ._verifier import Verifier

log = structlog.get_logger("ingest.verify.plaid")

HEADER = "plaid-verification"
KEY_CACHE_SECONDS = 3600.0
"""A key fetched from Plaid is asked for again after this long (Plaid may expire it)."""


@lru_cache(maxsize=64)
def _token_options(max_age: int, jwks_file: str | None) -> JwtScheme:
    # Built without validation: with keys from Plaid's API it has no key source of its own.
    return JwtScheme.model_construct(scheme="jwt", algorithms=["ES256"], header=HEADER,
                                     jwks_file=jwks_file, max_age=max_age,
                                     required_claims=["iat"],
                                     body_hash_claim="request_body_sha256")


def _kid(request: SignedRequest, options: PlaidScheme) -> tuple[str, str | None]:
    token = request.require(HEADER).strip()
    header = jwt.unverified_header(token, _token_options(options.max_age, options.jwks_file))
    return token, header.get("kid")


async def _fetch_key(options: PlaidScheme, kid: str) -> Any:
    assert options.secret is not None  # the options require it without a jwks_file
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
        raise VerificationError("keys_unavailable", f"cannot fetch Plaid's key at "
                                f"{key_source(options.keys_url)}: {type(error).__name__}"
                                ) from None
    key = answer.get("key") if isinstance(answer, dict) else None
    if not isinstance(key, dict):
        return None
    if key.get("expired_at") is not None:
        return _EXPIRED
    return pyjwt.PyJWK.from_dict(key).key


_EXPIRED = object()


class PlaidVerifier(Verifier[PlaidScheme]):
    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        token, kid = _kid(request, options)
        token_options = _token_options(options.max_age, options.jwks_file)
        if options.jwks_file:
            keys = jwt.candidate_keys(token_options, kid, self.keys)
        else:
            key = self.keys.cached(options.keys_url, kid or "")
            if key is _EXPIRED:
                raise VerificationError("unknown_key", f"Plaid reports key {kid!r} as expired")
            keys = [] if key is None else [key]
        jwt.check_token(request, token, keys, token_options, now)

    async def fetch_keys(self, request: SignedRequest) -> None:
        """Fetch the token's key from Plaid when it is not cached (and no JWKS file is set)."""
        options = self.options
        if options.jwks_file:
            return
        try:
            _token, kid = _kid(request, options)
        except VerificationError:
            return  # verify() reports it
        if not kid:
            return
        await self.keys.refresh(options.keys_url, kid, lambda: _fetch_key(options, kid),
                                fresh_for=KEY_CACHE_SECONDS)

    def sign(self, body: bytes, *, timestamp: int | None = None, private_key: Any = None,
             kid: str | None = None, **_: Any) -> dict[str, str]:
        """The header Plaid would send; needs the (test) `private_key` Plaid's key pairs with."""
        if private_key is None:
            raise ValueError("signing plaid needs the private key")
        claims = {"iat": int(time.time()) if timestamp is None else timestamp,
                  "request_body_sha256": hashlib.sha256(body).hexdigest()}
        token = pyjwt.encode(claims, private_key, algorithm="ES256",
                             headers={"kid": kid} if kid else None)
        return {"Plaid-Verification": token}
