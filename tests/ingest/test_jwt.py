"""JWT verification against the attacks that matter: alg none, algorithm confusion,
expiry, audience, and key rotation through a JWKS URL served by a real aiohttp server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import TypeAdapter

from ingest.verify import KeyCache, SignedRequest, VerificationError, sign, verify
from routing.schemes import VerifySpec

OPTIONS = TypeAdapter(VerifySpec)
BODY = b'{"decision": "approved"}'


def new_key():
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public_pem


def jwk(private, kid: str) -> dict:
    data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return {**data, "kid": kid, "alg": "ES256", "use": "sig"}


def req(token: str, body: bytes = BODY) -> SignedRequest:
    return SignedRequest(body=body, headers={"authorization": f"Bearer {token}"})


def es256_options(**extra):
    return OPTIONS.validate_python({"scheme": "jwt", "algorithms": ["ES256"], **extra})


async def test_es256_with_a_pem_public_key():
    private, public_pem = new_key()
    opts = es256_options(public_keys=[public_pem], audience="wp", body_hash_claim="h")
    headers = sign(opts, BODY, private_key=private)
    await verify(SignedRequest(body=BODY, headers={"authorization": headers["authorization"]}),
                 opts)
    with pytest.raises(VerificationError):
        await verify(SignedRequest(body=b"{}", headers={"authorization": headers["authorization"]}),
                     opts)


async def test_alg_none_is_rejected():
    _, public_pem = new_key()
    opts = es256_options(public_keys=[public_pem])
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(
        json.dumps({"exp": int(time.time()) + 60}).encode()).rstrip(b"=").decode()
    with pytest.raises(VerificationError) as caught:
        await verify(req(f"{header}.{claims}."), opts)
    assert caught.value.reason == "bad_algorithm"


async def test_hs256_signed_with_the_public_key_is_rejected():
    _, public_pem = new_key()
    opts = es256_options(public_keys=[public_pem])
    # The classic confusion attack: HMAC-sign with the public key's PEM as the secret.
    signing_input = (
        base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=") + b"."
        + base64.urlsafe_b64encode(json.dumps({"exp": int(time.time()) + 60}).encode()).rstrip(b"=")
    )
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem.encode(), signing_input, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(VerificationError) as caught:
        await verify(req((signing_input + b"." + signature).decode()), opts)
    assert caught.value.reason == "bad_algorithm"


async def test_expired_and_wrong_audience():
    opts = OPTIONS.validate_python({"scheme": "jwt", "algorithms": ["HS256"],
                                    "secrets": ["s" * 32], "audience": "waitpoint"})
    expired = jwt.encode({"exp": int(time.time()) - 10, "aud": "waitpoint"}, "s" * 32, "HS256")
    with pytest.raises(VerificationError) as caught:
        await verify(req(expired), opts)
    assert caught.value.reason == "expired"
    wrong_aud = jwt.encode({"exp": int(time.time()) + 60, "aud": "someone-else"}, "s" * 32,
                           "HS256")
    with pytest.raises(VerificationError) as caught:
        await verify(req(wrong_aud), opts)
    assert caught.value.reason == "bad_claims"


async def test_max_age_on_iat():
    opts = OPTIONS.validate_python({"scheme": "jwt", "algorithms": ["HS256"],
                                    "secrets": ["s" * 32], "max_age": 60})
    old = jwt.encode({"exp": int(time.time()) + 600, "iat": int(time.time()) - 120}, "s" * 32)
    with pytest.raises(VerificationError) as caught:
        await verify(req(old), opts)
    assert caught.value.reason == "stale_timestamp"


async def test_unknown_kid_refetches_the_jwks(aiohttp_server):
    keys = KeyCache(refetch_after=0.0)
    first, _ = new_key()
    second, _ = new_key()
    published = {"keys": [jwk(first, "k1")]}
    fetches = []

    async def jwks(request: web.Request) -> web.Response:
        fetches.append(1)
        return web.json_response(published)

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(app)
    opts = es256_options(jwks_url=str(server.make_url("/jwks.json")), jwks_cache_seconds=3600)

    first_token = sign(opts, BODY, private_key=first, kid="k1")["authorization"][7:]
    await verify(req(first_token), opts, keys=keys)
    await verify(req(first_token), opts, keys=keys)
    assert len(fetches) == 1  # cached
    published["keys"].append(jwk(second, "k2"))  # the provider rotates its keys
    second_token = sign(opts, BODY, private_key=second, kid="k2")["authorization"][7:]
    await verify(req(second_token), opts, keys=keys)
    assert len(fetches) == 2
    with pytest.raises(VerificationError) as caught:
        await verify(req(sign(opts, BODY, private_key=second, kid="k9")["authorization"][7:]),
                     opts, keys=keys)
    assert caught.value.reason == "unknown_key"


async def test_when_the_key_server_fails_cached_keys_keep_working(aiohttp_server):
    keys = KeyCache(refetch_after=0.0)
    private, _ = new_key()
    state = {"up": True}
    fetches = []

    async def jwks(request: web.Request) -> web.Response:
        fetches.append(state["up"])
        if not state["up"]:
            return web.Response(status=502)
        return web.json_response({"keys": [jwk(private, "k1")]})

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(app)
    # jwks_cache_seconds=0: every request tries to refresh the keys.
    opts = es256_options(jwks_url=str(server.make_url("/jwks.json")), jwks_cache_seconds=0)
    token = sign(opts, BODY, private_key=private, kid="k1")["authorization"][7:]
    await verify(req(token), opts, keys=keys)
    state["up"] = False
    await verify(req(token), opts, keys=keys)  # refresh failed: the cached key still verifies
    assert fetches == [True, False]  # it did ask again, and the key server was down


async def test_unreachable_keys_with_nothing_cached_is_keys_unavailable(aiohttp_server):
    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"keys": "nonsense"})

    app = web.Application()
    app.router.add_get("/jwks.json", broken)
    server = await aiohttp_server(app)
    opts = es256_options(jwks_url=str(server.make_url("/jwks.json")))
    private, _ = new_key()
    token = sign(opts, BODY, private_key=private, kid="k1")["authorization"][7:]
    with pytest.raises(VerificationError) as caught:
        await verify(req(token), opts)
    assert caught.value.reason == "keys_unavailable"


@pytest.mark.parametrize("content", [None, "{not json", '{"keys": [{"kty": "nope"}]}'])
async def test_a_missing_or_broken_jwks_file_is_keys_unavailable(tmp_path, content):
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    opts = es256_options(jwks_file=str(path))
    private, _ = new_key()
    token = sign(opts, BODY, private_key=private, kid="k1")["authorization"][7:]
    with pytest.raises(VerificationError) as caught:
        await verify(req(token), opts)
    assert caught.value.reason == "keys_unavailable"
