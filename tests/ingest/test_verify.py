"""Each verification scheme: valid, wrong secret, tampered body, stale timestamp, missing
header, rotated secret. Verification runs over raw bytes, before any parsing."""

from __future__ import annotations

import time

import pytest
from pydantic import TypeAdapter

from ingest.verify import SignedRequest, VerificationError, sign, verify
from routing.schemes import VerifySpec

OPTIONS = TypeAdapter(VerifySpec)
BODY = b'{"id": "evt_1", "amount": 100}'
URL = "https://hooks.example.com/webhooks/twilio/status/5?x=1"

SCHEMES = {
    "stripe": {"scheme": "stripe"},
    "github": {"scheme": "github"},
    "slack": {"scheme": "slack"},
    "shopify": {"scheme": "shopify"},
    "twilio": {"scheme": "twilio"},
    "standard": {"scheme": "standard"},
    "hmac-hex": {"scheme": "hmac", "header": "x-signature", "prefix": "sha256="},
    "hmac-b64-ts": {"scheme": "hmac", "header": "x-sig", "algorithm": "sha512",
                    "encoding": "base64", "timestamp_header": "x-ts",
                    "signed_content": "{timestamp}:{body}"},
    "jwt-hs256": {"scheme": "jwt", "algorithms": ["HS256"], "audience": "wp",
                  "body_hash_claim": "body_sha256"},
}
TIMED = {"stripe", "slack", "standard", "hmac-b64-ts"}
SECRET = {"standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


def options(name: str, secrets: list[str] | None = None):
    secret = SECRET.get(name, f"secret-for-{name}-{'x' * 32}")
    return OPTIONS.validate_python({**SCHEMES[name], "secrets": secrets or [secret]})


def request(name: str, headers: dict[str, str], body: bytes = BODY) -> SignedRequest:
    url = URL if name == "twilio" else ""
    return SignedRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, url=url)


def body_for(name: str) -> bytes:
    return b"MessageStatus=delivered&MessageSid=SM1" if name == "twilio" else BODY


async def check(name: str, opts, headers, body=None, now=None):
    await verify(request(name, headers, body or body_for(name)), opts, now)


@pytest.mark.parametrize("name", SCHEMES)
async def test_valid_signature_passes(name):
    opts = options(name)
    await check(name, opts, sign(opts, body_for(name), url=URL))


@pytest.mark.parametrize("name", SCHEMES)
async def test_wrong_secret_fails(name):
    signed_with = options(name, ["the-wrong-secret" * 3] if name != "standard"
                          else ["whsec_dGhlLXdyb25nLXNlY3JldA=="])
    with pytest.raises(VerificationError) as caught:
        await check(name, options(name), sign(signed_with, body_for(name), url=URL))
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("name", SCHEMES)
async def test_tampered_body_fails(name):
    opts = options(name)
    headers = sign(opts, body_for(name), url=URL)
    with pytest.raises(VerificationError) as caught:
        await check(name, opts, headers, body=body_for(name).replace(b"1", b"2"))
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("name", sorted(TIMED))
async def test_stale_timestamp_fails(name):
    opts = options(name)
    old = int(time.time()) - 301
    with pytest.raises(VerificationError) as caught:
        await check(name, opts, sign(opts, body_for(name), timestamp=old))
    assert caught.value.reason == "stale_timestamp"


@pytest.mark.parametrize("name", SCHEMES)
async def test_missing_header_fails(name):
    with pytest.raises(VerificationError) as caught:
        await check(name, options(name), {})
    assert caught.value.reason == "missing_signature"


@pytest.mark.parametrize("name", SCHEMES)
async def test_rotated_secrets_both_verify(name):
    old = "whsec_b2xkLXNlY3JldA==" if name == "standard" else "old-secret" * 4
    new = SECRET.get(name, "new-secret" * 4)
    both = options(name, [new, old])
    for secret in (new, old):
        await check(name, both, sign(options(name, [secret]), body_for(name), url=URL))


def test_standard_webhooks_known_answer():
    """The example from the Standard Webhooks specification."""
    opts = options("standard")
    headers = sign(opts, b'{"test": 2432232314}', timestamp=1614265330,
                   message_id="msg_p5jXN8AQM9LWM0D4loKWxJek")
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_stripe_accepts_any_of_several_v1_entries():
    opts = options("stripe")
    good = sign(opts, BODY)["Stripe-Signature"]
    timestamp, v1 = good.split(",")
    header = f"{timestamp},v1={'0' * 64},{v1},v0=deadbeef"
    await check("stripe", opts, {"Stripe-Signature": header})


async def test_twilio_json_body_variant_with_body_hash():
    import hashlib

    body = b'{"status": "completed"}'
    url = f"https://hooks.example.com/cb?bodySHA256={hashlib.sha256(body).hexdigest()}"
    opts = options("twilio")
    headers = sign(opts, body, url=url)
    await verify(SignedRequest(body=body, headers={k.lower(): v for k, v in headers.items()},
                               url=url), opts)
    with pytest.raises(VerificationError):
        await verify(SignedRequest(body=b'{"status": "failed"}',
                                   headers={k.lower(): v for k, v in headers.items()}, url=url),
                     opts)


async def test_twilio_signature_over_the_url_with_its_default_port():
    opts = options("twilio")
    headers = sign(opts, body_for("twilio"), url="https://hooks.example.com:443/webhooks/twilio/"
                                                 "status/5?x=1")
    await check("twilio", opts, headers)
