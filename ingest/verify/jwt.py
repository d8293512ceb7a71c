"""JWT-signed callbacks (pyjwt): an allow-list of algorithms, keys from shared secrets, PEM
public keys, a JWKS file or a JWKS URL (cached; refetched when an unknown `kid` shows up),
issuer/audience/expiry/max-age checks, and an optional claim holding the body's SHA-256.

`alg: none` can never be allowed (the config refuses it) and a source uses either HS* or
public-key algorithms, never both, so a public key can never be used as an HMAC secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
import structlog

from routing.schemes import JwtScheme

from ._base import SignedRequest, VerificationError, key_source, secret_values
from ._verifier import Verifier
from .keys import KeyCache

log = structlog.get_logger("ingest.verify.jwt")

KeySet = dict[str | None, Any]


def _token(request: SignedRequest, options: JwtScheme) -> str:
    value = request.require(options.header)
    if options.header.lower() == "authorization":
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VerificationError("malformed_signature", "expected 'Bearer <token>'")
        return token.strip()
    return value.strip()


def _key_set(data: Any, source: str = "the JWKS") -> KeySet:
    """The keys of a JWKS by kid; an unusable set is keys_unavailable (503, retried), not
    a forged request."""
    try:
        return {key.key_id: key.key for key in jwt.PyJWKSet.from_dict(data).keys}
    except (jwt.PyJWTError, TypeError, AttributeError, KeyError) as error:
        raise VerificationError("keys_unavailable",
                                f"{source} is not a usable JWKS: {error}") from None


async def _fetch(url: str) -> KeySet:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise VerificationError("keys_unavailable", f"cannot fetch the keys at "
                                f"{key_source(url)}: {type(error).__name__}") from None
    return _key_set(data, key_source(url))


def candidate_keys(options: JwtScheme, kid: str | None, cache: KeyCache) -> list[Any]:
    if any(a.startswith("HS") for a in options.algorithms):
        return [secret.encode() for secret in secret_values(options)]
    keys: list[Any] = list(options.public_keys)
    sets: list[KeySet] = []
    if options.jwks_file:
        path = options.jwks_file
        sets.append(cache.file(path, lambda data: _key_set(data, path)))
    fetched = cache.cached(options.jwks_url) if options.jwks_url else None
    if fetched is not None:
        sets.append(fetched)
    for key_set in sets:
        if kid is not None:
            if kid in key_set:
                keys.append(key_set[kid])
        else:
            keys.extend(key_set.values())
    return keys


def unverified_header(token: str, options: JwtScheme) -> dict[str, Any]:
    """The token's header, once its algorithm is on the allow-list."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise VerificationError("malformed_signature", str(error)) from None
    if header.get("alg") not in options.algorithms:
        raise VerificationError("bad_algorithm", f"{header.get('alg')!r} is not allowed")
    return header


def check_token(request: SignedRequest, token: str, keys: list[Any], options: JwtScheme,
                now: float) -> dict[str, Any]:
    """Decode with the first key that verifies, then check max age, exact claims and the
    body hash. Returns the claims."""
    if not keys:
        kid = jwt.get_unverified_header(token).get("kid")
        raise VerificationError("unknown_key", f"no key for kid {kid!r}")
    claims = None
    last_error: Exception | None = None
    for key in keys:
        try:
            claims = jwt.decode(
                token, key, algorithms=list(options.algorithms), issuer=options.issuer,
                audience=options.audience, leeway=options.leeway,
                # Times are checked below against `now`, like every other scheme's.
                options={"require": list(options.required_claims),
                         "verify_aud": options.audience is not None, "verify_exp": False,
                         "verify_nbf": False, "verify_iat": False},
            )
            break
        except jwt.InvalidSignatureError as error:
            last_error = error
        except jwt.PyJWTError as error:
            raise VerificationError("bad_claims", str(error)) from None
    if claims is None:
        raise VerificationError("bad_signature", str(last_error or ""))
    _check_times(claims, now, options.leeway)
    if options.max_age is not None:
        issued = claims.get("iat")
        if not isinstance(issued, int | float):
            raise VerificationError("bad_claims", "max_age needs an iat claim")
        if now - issued > options.max_age + options.leeway:
            raise VerificationError("stale_timestamp", f"issued {int(now - issued)} s ago")
    for name, wanted in options.claims.items():
        if claims.get(name) != wanted:
            raise VerificationError("bad_claims", f"claim {name!r} is not {wanted!r}")
    if options.body_hash_claim:
        wanted = str(claims.get(options.body_hash_claim, ""))
        actual = hashlib.sha256(request.body).hexdigest()
        if not hmac.compare_digest(wanted.lower().encode(), actual.encode()):
            raise VerificationError("bad_signature", f"{options.body_hash_claim} does not "
                                                     "match the body")
    return claims


def _check_times(claims: dict[str, Any], now: float, leeway: int) -> None:
    times: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        if name not in claims:
            continue
        value = claims[name]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise VerificationError("bad_claims", f"{name} is not a number")
        times[name] = value
    if "exp" in times and now > times["exp"] + leeway:
        raise VerificationError("expired", "token has expired")
    if "nbf" in times and now < times["nbf"] - leeway:
        raise VerificationError("bad_claims", "token is not yet valid (nbf)")
    if "iat" in times and now < times["iat"] - leeway:
        raise VerificationError("bad_claims", "token was issued in the future (iat)")


class JwtVerifier(Verifier[JwtScheme]):
    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        token = _token(request, options)
        header = unverified_header(token, options)
        check_token(request, token, candidate_keys(options, header.get("kid"), self.keys),
                    options, now)

    async def fetch_keys(self, request: SignedRequest) -> None:
        """Make sure the JWKS URL's keys are cached, refetching for an unknown kid."""
        options = self.options
        url = options.jwks_url
        if not url:
            return
        try:
            kid = jwt.get_unverified_header(_token(request, options)).get("kid")
        except jwt.PyJWTError:
            return  # check() reports the malformed token
        await self.keys.refresh(url, "", lambda: _fetch(url), fresh_for=options.jwks_cache_seconds,
                                good_enough=lambda keys: kid is None or kid in keys)

    def sign(self, body: bytes, *, timestamp: int | None = None,
         private_key: Any = None, kid: str | None = None, claims: dict[str, Any] | None = None,
         **_: Any) -> dict[str, str]:
        """A token as the provider would send it. Public-key schemes need `private_key`."""
        options = self.options
        now = int(time.time()) if timestamp is None else timestamp
        algorithm = options.algorithms[0]
        if algorithm.startswith("HS"):
            key: Any = secret_values(options)[0].encode()
        elif private_key is None:
            raise ValueError(f"signing {algorithm} needs the provider's private key")
        else:
            key = private_key
        payload: dict[str, Any] = {"iat": now, "exp": now + 300}
        if options.issuer:
            payload["iss"] = options.issuer if isinstance(options.issuer, str) else \
                options.issuer[0]
        if options.audience:
            payload["aud"] = options.audience
        if options.body_hash_claim:
            payload[options.body_hash_claim] = hashlib.sha256(body).hexdigest()
        payload.update(options.claims)
        payload.update(claims or {})
        token = jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)
        value = f"Bearer {token}" if options.header.lower() == "authorization" else token
        return {options.header: value}
