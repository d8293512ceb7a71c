"""Every provider preset: what the provider sends verifies; a wrong secret or key, a
tampered body and a stale time do not. Where the provider publishes a verifier on PyPI,
that library accepts what our sign() produces."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import pytest

from ingest.verify import KeyCache, SignedRequest, VerificationError, sign, verify
from routing.presets import PRESETS

from .presets import (
    DISCORD_PUBLIC,
    SENDGRID_KEY,
    SENDGRID_PUBLIC,
    Case,
    cases,
    options,
    signed_body,
    write_jwks,
)

SECRET = "test-secret-0123456789abcdef"
OTHER = "another-secret-0123456789abcdef"
WITHOUT_BODY_SIGNATURE = {"gitlab", "msgraph", "google-pubsub"}  # a token, not a signature
# over the body (Pub/Sub's OIDC token proves the sender, not the body: TLS protects it)
NAMES = sorted(cases({"plaid": "", "google-pubsub": ""}))
TIMED = {"svix", "clerk", "resend", "openai", "discord", "zoom", "paddle", "linear",
         "calendly", "mailgun", "sendgrid", "plaid", "custom"}


@pytest.fixture(scope="module")
def all_cases(tmp_path_factory) -> dict[str, Case]:
    return cases(write_jwks(tmp_path_factory.mktemp("jwks")))


def signed_request(name: str, case: Case, *, timestamp: int | None = None,
                   body: bytes | None = None, verifier=None) -> SignedRequest:
    verifier = verifier or options(case)
    timestamp = int(time.time()) if timestamp is None else timestamp
    sent = signed_body(name, case, verifier, timestamp)
    url = case.url or getattr(verifier, "url", None) or "https://hooks.example.com/hook"
    headers = {**case.headers, **sign(verifier, sent, timestamp=timestamp, url=url,
                                      **case.sign)}
    return SignedRequest(body=sent if body is None else body,
                         headers={k.lower(): v for k, v in headers.items()}, url=url)


def with_secret(case: Case, secret: str) -> Case:
    changed = dict(case.options)
    if "secrets" in changed:
        changed["secrets"] = [secret]
    return Case(changed, case.body, case.headers, case.sign, case.url)


def test_every_named_preset_has_a_case(all_cases):
    generic = {"hmac", "jwt", "none", "stripe", "github", "slack", "shopify", "twilio",
               "standard"}  # covered by test_verify and test_jwt
    assert set(PRESETS) - generic == set(all_cases)


@pytest.mark.parametrize("name", NAMES)
async def test_what_the_provider_sends_verifies(all_cases, name):
    case = all_cases[name]
    await verify(signed_request(name, case), options(case))


@pytest.mark.parametrize("name", NAMES)
async def test_a_wrong_secret_or_key_fails(all_cases, name):
    case = all_cases[name]
    if name == "msgraph":  # the secret travels in the body: send it with another one
        sent = signed_request(name, case, body=case.body.replace(SECRET.encode(),
                                                                 OTHER.encode()))
    elif "secrets" in case.options:
        sent = signed_request(name, with_secret(case, OTHER))
    else:  # discord, sendgrid, plaid, google-pubsub: a key that is not the configured one
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        key = (rsa.generate_private_key(65537, 2048) if name == "google-pubsub"
               else ed25519.Ed25519PrivateKey.generate() if name == "discord"
               else ec.generate_private_key(ec.SECP256R1()))
        sent = signed_request(name, Case(case.options, case.body, case.headers,
                                         {**case.sign, "private_key": key}))
    with pytest.raises(VerificationError) as raised:
        await verify(sent, options(case))
    assert raised.value.reason == "bad_signature"


@pytest.mark.parametrize("name", sorted(set(NAMES) - WITHOUT_BODY_SIGNATURE - {"mailgun"}))
async def test_a_tampered_body_fails(all_cases, name):
    case = all_cases[name]
    sent = signed_request(name, case)
    tampered = sent.body.replace(b'"', b"'", 1) + b" "
    with pytest.raises(VerificationError):
        await verify(SignedRequest(tampered, sent.headers, sent.url), options(case))


@pytest.mark.parametrize("name", sorted(TIMED))
async def test_a_stale_time_fails(all_cases, name):
    case = all_cases[name]
    verifier = options(case)
    sent = signed_request(name, case, timestamp=int(time.time()) - 3600)
    if name == "linear":  # the time is in the body, which the signature covers
        sent = signed_request(name, case, timestamp=int(time.time()) - 3600,
                              verifier=verifier)
        sent = SignedRequest(_linear_body(case.body, -3600), sent.headers, sent.url)
        sent = SignedRequest(sent.body, {**sent.headers, **{
            k.lower(): v for k, v in sign(verifier, sent.body).items()}}, sent.url)
    with pytest.raises(VerificationError) as raised:
        await verify(sent, verifier)
    assert raised.value.reason == "stale_timestamp"


def _linear_body(body: bytes, shift: int) -> bytes:
    data = json.loads(body)
    data["webhookTimestamp"] = int((time.time() + shift) * 1000)
    return json.dumps(data).encode()


async def test_gitlab_compares_the_token_and_mailgun_the_body_signature(all_cases):
    gitlab = all_cases["gitlab"]
    sent = signed_request("gitlab", gitlab)
    assert sent.headers["x-gitlab-token"] == SECRET
    with pytest.raises(VerificationError, match="missing_signature"):
        await verify(SignedRequest(sent.body, {}, sent.url), options(gitlab))
    mailgun = all_cases["mailgun"]
    sent = signed_request("mailgun", mailgun)
    forged = json.loads(sent.body)
    forged["signature"]["token"] = "forged"
    with pytest.raises(VerificationError, match="bad_signature"):
        await verify(SignedRequest(json.dumps(forged).encode(), {}, ""), options(mailgun))


async def test_mailgun_form_posts_verify_too(all_cases):
    from urllib.parse import urlencode

    from ingest.verify.mailgun import signature_fields

    verifier = options(all_cases["mailgun"])
    form = urlencode({"recipient": "a@example.com", **signature_fields(verifier)}).encode()
    await verify(SignedRequest(form, {}, ""), verifier)


async def test_msgraph_rejects_a_batch_with_one_foreign_client_state(all_cases):
    case = all_cases["msgraph"]
    body = json.dumps({"value": [{"clientState": SECRET}, {"clientState": "nope"}]}).encode()
    with pytest.raises(VerificationError, match="bad_signature"):
        await verify(SignedRequest(body, {}, ""), options(case))


async def test_docusign_accepts_the_header_of_any_configured_key(all_cases):
    case = with_secret(all_cases["docusign"], SECRET)
    two_keys = Case({**case.options, "secrets": [OTHER, SECRET]}, case.body)
    sent = signed_request("docusign", case)
    headers = {"x-docusign-signature-1": "AAAA",
               "x-docusign-signature-2": sent.headers["x-docusign-signature-1"]}
    await verify(SignedRequest(sent.body, headers, ""), options(two_keys))


async def test_google_pubsub_checks_the_service_account_and_audience(all_cases):
    case = all_cases["google-pubsub"]
    verifier = options(case)
    wrong_account = signed_request("google-pubsub", Case(
        case.options, case.body, case.headers,
        {**case.sign, "claims": {"email": "someone@evil.example"}}))
    with pytest.raises(VerificationError, match="bad_claims"):
        await verify(wrong_account, verifier)
    other_audience = Case({**case.options, "audience": "https://elsewhere.example"},
                          case.body, case.headers, case.sign)
    with pytest.raises(VerificationError, match="bad_claims"):
        await verify(signed_request("google-pubsub", other_audience), verifier)


async def test_plaid_refuses_another_algorithm_and_a_body_it_did_not_hash(all_cases):
    import jwt as pyjwt

    case = all_cases["plaid"]
    verifier = options(case)
    sent = signed_request("plaid", case)
    with pytest.raises(VerificationError, match="bad_signature"):
        await verify(SignedRequest(b'{"webhook_code": "other"}', sent.headers, ""), verifier)
    hs256 = pyjwt.encode({"iat": int(time.time()),
                          "request_body_sha256": hashlib.sha256(sent.body).hexdigest()},
                         "x" * 32, algorithm="HS256")
    with pytest.raises(VerificationError, match="bad_algorithm"):
        await verify(SignedRequest(sent.body, {"plaid-verification": hs256}, ""), verifier)


# --- the providers' own verifiers accept our signatures ------------------------------


def test_stripe_library_accepts_our_signature():
    stripe = pytest.importorskip("stripe")
    spec = options(Case({"scheme": "stripe", "secrets": ["whsec_" + "k" * 24]}, b""))
    body = b'{"id": "evt_1", "object": "event"}'
    header = sign(spec, body)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_" + "k" * 24,
                                                 tolerance=300)


@pytest.mark.parametrize("name", ["svix", "clerk", "resend", "openai", "standard"])
def test_svix_and_standard_webhooks_libraries_accept_our_signature(name):
    svix = pytest.importorskip("svix.webhooks")
    standardwebhooks = pytest.importorskip("standardwebhooks.webhooks")
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type": "user.created"}'
    headers = sign(options(Case({"scheme": name, "secrets": [secret]}, b"")), body)
    svix_headers = {k.replace("webhook-", "svix-"): v for k, v in headers.items()}
    svix.Webhook(secret).verify(body, svix_headers)  # raises when it does not verify
    standardwebhooks.Webhook(secret).verify(body, headers)
    with pytest.raises(svix.WebhookVerificationError):
        svix.Webhook(secret).verify(body + b" ", svix_headers)


def test_slack_sdk_accepts_our_signature():
    signature = pytest.importorskip("slack_sdk.signature")
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    headers = sign(options(Case({"scheme": "slack", "secrets": [SECRET]}, b"")), body)
    verifier = signature.SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"],
                             headers["X-Slack-Signature"])


def test_twilio_library_accepts_our_signature():
    validator = pytest.importorskip("twilio.request_validator")
    url = "https://hooks.example.com/webhooks/twilio"
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+15558675310"}
    from urllib.parse import urlencode

    headers = sign(options(Case({"scheme": "twilio", "secrets": [SECRET]}, b"")),
                   urlencode(params).encode(), url=url)
    assert validator.RequestValidator(SECRET).validate(url, params,
                                                       headers["X-Twilio-Signature"])


def test_twilio_library_signs_sha256_as_we_verify_it():
    """What twilio's own RequestValidator computes with HMAC_SHA256 verifies here when the
    settings header names that algorithm, and fails when it names SHA-1 or nothing."""
    validator = pytest.importorskip("twilio.request_validator")
    url = "https://hooks.example.com/webhooks/twilio"
    params = {"CallSid": "CA1", "CallStatus": "completed", "To": "+15558675310"}
    from urllib.parse import urlencode

    body = urlencode(params).encode()
    signature = validator.RequestValidator(SECRET).compute_signature(url, params,
                                                                     "HMAC_SHA256")
    spec = options(Case({"scheme": "twilio", "secrets": [SECRET]}, b""))

    def sent(settings: str | None) -> SignedRequest:
        headers = {"x-twilio-signature": signature}
        if settings is not None:
            headers["x-twilio-webhooks-signature-settings"] = settings
        return SignedRequest(body, headers, url)

    asyncio.run(verify(sent("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"), spec))
    for settings in (None, "key=webhooks_sharedkey_1,algorithm=HMAC_SHA1"):
        with pytest.raises(VerificationError, match="bad_signature"):
            asyncio.run(verify(sent(settings), spec))
    with pytest.raises(VerificationError, match="bad_algorithm"):
        asyncio.run(verify(sent("algorithm=HMAC_MD5"), spec))
    ours = sign(spec, body, url=url, algorithm="sha256")
    assert ours["X-Twilio-Signature"] == signature
    assert validator.get_signature_algorithm(
        ours["X-Twilio-Webhooks-Signature-Settings"]) == "HMAC_SHA256"


def test_a_sha1_signature_sent_as_sha256_is_refused():
    url = "https://hooks.example.com/webhooks/twilio"
    body = b"CallSid=CA1&CallStatus=completed"
    spec = options(Case({"scheme": "twilio", "secrets": [SECRET]}, b""))
    sha1 = sign(spec, body, url=url)["X-Twilio-Signature"]
    request = SignedRequest(body, {"x-twilio-signature": sha1,
                                   "x-twilio-webhooks-signature-settings":
                                   "key=k,algorithm=HMAC_SHA256"}, url)
    with pytest.raises(VerificationError, match="bad_signature"):
        asyncio.run(verify(request, spec))


def test_discord_library_accepts_our_signature(all_cases):
    discord = pytest.importorskip("discord_interactions")
    case = all_cases["discord"]
    sent = signed_request("discord", case)
    assert discord.verify_key(sent.body, sent.headers["x-signature-ed25519"],
                              sent.headers["x-signature-timestamp"], DISCORD_PUBLIC)


def test_sendgrid_library_accepts_our_signature(all_cases):
    eventwebhook = pytest.importorskip("sendgrid.helpers.eventwebhook")
    case = all_cases["sendgrid"]
    sent = signed_request("sendgrid", case)
    checker = eventwebhook.EventWebhook(SENDGRID_PUBLIC)
    assert checker.verify_signature(sent.body.decode(),
                                    sent.headers["x-twilio-email-event-webhook-signature"],
                                    sent.headers["x-twilio-email-event-webhook-timestamp"])
    assert SENDGRID_KEY is not None


def test_square_library_accepts_our_signature(all_cases):
    helper = pytest.importorskip("square.utils.webhooks_helper")
    case = all_cases["square"]
    sent = signed_request("square", case)
    assert helper.verify_signature(
        request_body=sent.body.decode(),
        signature_header=sent.headers["x-square-hmacsha256-signature"],
        signature_key=SECRET, notification_url=case.options["notification_url"])


def test_paddle_library_accepts_our_signature(all_cases):
    notifications = pytest.importorskip("paddle_billing.Notifications")
    case = all_cases["paddle"]
    sent = signed_request("paddle", case)

    class Request:
        headers = {"Paddle-Signature": sent.headers["paddle-signature"]}
        body = sent.body

    verified = notifications.Verifier().verify(Request(), notifications.Secret(SECRET))
    assert verified is True


async def test_plaid_fetches_each_key_once_from_its_api_and_refuses_expired_ones(aiohttp_server):
    """A local server answering like Plaid's /webhook_verification_key/get."""
    import json as json_module

    from aiohttp import web
    from cryptography.hazmat.primitives.asymmetric import ec

    from .presets import PLAID_KEY, jwks

    expired_key = ec.generate_private_key(ec.SECP256R1())
    published = {"live-kid": {**jwks(PLAID_KEY, "live-kid", "ES256")["keys"][0],
                              "expired_at": None},
                 "old-kid": {**jwks(expired_key, "old-kid", "ES256")["keys"][0],
                             "expired_at": 1700000000}}
    asked: list[str] = []

    async def key_endpoint(request: web.Request) -> web.Response:
        body = await request.json()
        if (body.get("client_id"), body.get("secret")) != ("client-1", "plaid-secret"):
            return web.json_response({"error_code": "INVALID_API_KEYS"}, status=400)
        asked.append(body["key_id"])
        if body["key_id"] not in published:
            return web.json_response({"error_code": "INVALID_WEBHOOK_VERIFICATION_KEY_ID"},
                                     status=400)
        return web.json_response({"key": published[body["key_id"]], "request_id": "r"})

    app = web.Application()
    app.router.add_post("/webhook_verification_key/get", key_endpoint)
    server = await aiohttp_server(app)
    spec = {"scheme": "plaid", "client_id": "client-1", "secret": "plaid-secret",
            "api_url": str(server.make_url("/")).rstrip("/")}
    case = Case(spec, json_module.dumps({"webhook_code": "DEFAULT_UPDATE"}).encode())
    verifier = options(case)
    keys = KeyCache()  # one per app, as the receiver holds it
    for _ in range(2):
        sent = signed_request("plaid", Case(spec, case.body, {},
                                            {"private_key": PLAID_KEY, "kid": "live-kid"}))
        await verify(sent, verifier, keys=keys)
    assert asked == ["live-kid"]  # cached after the first fetch
    old = signed_request("plaid", Case(spec, case.body, {},
                                       {"private_key": expired_key, "kid": "old-kid"}))
    with pytest.raises(VerificationError, match="expired"):
        await verify(old, verifier, keys=keys)
    unknown = signed_request("plaid", Case(spec, case.body, {},
                                           {"private_key": PLAID_KEY, "kid": "made-up"}))
    with pytest.raises(VerificationError, match="unknown_key"):
        await verify(unknown, verifier, keys=keys)
    wrong_credentials = options(Case({**spec, "secret": "guess"}, b""))
    with pytest.raises(VerificationError, match="unknown_key"):
        await verify(signed_request("plaid", Case(spec, case.body, {},
                                                  {"private_key": PLAID_KEY, "kid": "k2"})),
                     wrong_credentials)


def test_openai_library_accepts_our_signature():
    openai = pytest.importorskip("openai")
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type": "response.completed", "data": {"id": "resp_1"}}'
    headers = sign(options(Case({"scheme": "openai", "secrets": [secret]}, b"")), body)
    client = openai.OpenAI(api_key="unused", webhook_secret=secret)
    client.webhooks.verify_signature(body, headers)  # raises when it does not verify
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(body + b" ", headers)


def test_google_auth_accepts_our_pubsub_token(all_cases):
    """google-auth's id_token.verify_token, as Google's Pub/Sub docs use it, given our
    test key set in place of Google's certificate endpoint."""
    id_token = pytest.importorskip("google.oauth2.id_token")
    from .presets import GOOGLE_KEY, GOOGLE_KID, jwks

    case = all_cases["google-pubsub"]
    token = signed_request("google-pubsub", case).headers["authorization"].removeprefix(
        "Bearer ")
    published = json.dumps(jwks(GOOGLE_KEY, GOOGLE_KID, "RS256")).encode()

    class Response:  # google.auth.transport.Response
        status = 200
        headers: dict[str, str] = {}
        data = published

    def transport(url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        return Response()

    claims = id_token.verify_token(token, transport, audience=case.options["audience"],
                                   certs_url="https://keys.invalid/certs")
    assert claims["email"] == case.options["service_account_email"]
    assert claims["email_verified"] is True
    assert claims["iss"] == "https://accounts.google.com"


async def test_plaid_keeps_a_cached_key_when_its_api_is_down(aiohttp_server, monkeypatch):
    from aiohttp import web

    from ingest.verify import KeyCache
    from ingest.verify import plaid as plaid_verifier

    from .presets import PLAID_KEY, jwks

    monkeypatch.setattr(plaid_verifier, "KEY_CACHE_SECONDS", 0.0)  # always ask again
    keys = KeyCache(refetch_after=0.0)
    state = {"up": True}
    asked = []

    async def key_endpoint(request: web.Request) -> web.Response:
        asked.append(state["up"])
        if not state["up"]:
            return web.Response(status=500)
        key = {**jwks(PLAID_KEY, "kid-9", "ES256")["keys"][0], "expired_at": None}
        return web.json_response({"key": key})

    app = web.Application()
    app.router.add_post("/webhook_verification_key/get", key_endpoint)
    server = await aiohttp_server(app)
    spec = {"scheme": "plaid", "client_id": "c", "secret": "s",
            "api_url": str(server.make_url("/")).rstrip("/")}
    case = Case(spec, b'{"webhook_code": "SYNC_UPDATES_AVAILABLE"}', {},
                {"private_key": PLAID_KEY, "kid": "kid-9"})
    await verify(signed_request("plaid", case), options(case), keys=keys)
    state["up"] = False
    await verify(signed_request("plaid", case), options(case), keys=keys)
    assert asked == [True, False]
    other = Case(spec, case.body, {}, {"private_key": PLAID_KEY, "kid": "never-seen"})
    with pytest.raises(VerificationError, match="keys_unavailable"):
        await verify(signed_request("plaid", other), options(other), keys=keys)


def test_google_pubsub_takes_one_key_source():
    with pytest.raises(ValueError, match="jwks_url or jwks_file, not both"):
        options(Case({"scheme": "google-pubsub", "audience": "a", "service_account_email": "e",
                      "jwks_url": "https://keys.example.com/certs",
                      "jwks_file": "keys.json"}, b""))
    fetched = options(Case({"scheme": "google-pubsub", "audience": "a",
                            "service_account_email": "e"}, b""))
    assert fetched.jwks_url == "https://www.googleapis.com/oauth2/v3/certs"
    offline = options(Case({"scheme": "google-pubsub", "audience": "a",
                            "service_account_email": "e", "jwks_file": "keys.json"}, b""))
    assert offline.jwks_url is None and offline.jwks_file == "keys.json"
