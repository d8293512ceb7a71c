"""Test material for every provider preset: options with test secrets and keys, a body
the provider might send, and how to sign it. Shared by the preset tests and the
recordings' generator. The private keys are generated for tests and sign nothing real."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import TypeAdapter

from ingest.verify import refresh_body
from routing.presets import verifier_options
from routing.schemes import VerifySpec

KEYS = Path(__file__).resolve().parents[1] / "recordings" / "keys"
SPEC = TypeAdapter(VerifySpec)


def _load_or_create(name: str, generate: Any) -> Any:
    """A test private key kept in tests/recordings/keys, so recordings stay verifiable."""
    path = KEYS / f"{name}.pem"
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = generate()
    KEYS.mkdir(exist_ok=True)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key


DISCORD_KEY = _load_or_create("discord-ed25519", ed25519.Ed25519PrivateKey.generate)
SENDGRID_KEY = _load_or_create("sendgrid-p256", lambda: ec.generate_private_key(ec.SECP256R1()))
PLAID_KEY = _load_or_create("plaid-p256", lambda: ec.generate_private_key(ec.SECP256R1()))
GOOGLE_KEY = _load_or_create("google-rsa", lambda: rsa.generate_private_key(65537, 2048))

DISCORD_PUBLIC = DISCORD_KEY.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
SENDGRID_PUBLIC = "".join(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode().splitlines()[1:-1])  # base64 DER, as SendGrid shows it
PLAID_KID = "6c5516e1-92dc-479e-a8ff-5a51992e0001"
GOOGLE_KID = "google-test-kid-1"


def jwks(key: Any, kid: str, alg: str) -> dict[str, Any]:
    jwk = json.loads(pyjwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": alg, "use": "sig"}]}


def write_jwks(directory: Path) -> dict[str, str]:
    """JWKS files for the Plaid and Google presets; returns their paths by preset."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"plaid": (PLAID_KEY, PLAID_KID, "ES256"),
             "google-pubsub": (GOOGLE_KEY, GOOGLE_KID, "RS256")}
    paths = {}
    for name, (key, kid, alg) in files.items():
        path = directory / f"{name}.jwks.json"
        path.write_text(json.dumps(jwks(key, kid, alg)))
        paths[name] = str(path)
    return paths


@dataclass(frozen=True)
class Case:
    """One preset: config options, a typical body, and what signing it needs."""

    options: dict[str, Any]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # unsigned headers it also sends
    sign: dict[str, Any] = field(default_factory=dict)  # extra arguments for sign()
    url: str = ""
    key: str = ""  # the correlation key the recordings' routes give it


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


AS_JSON = {"content-type": "application/json"}


def cases(jwks_files: dict[str, str]) -> dict[str, Case]:
    secret = "test-secret-0123456789abcdef"
    now_ms = int(time.time() * 1000)
    return {
        "svix": Case({"scheme": "svix", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                     _json({"type": "invoice.paid", "data": {"id": "inv_1"}}), AS_JSON),
        "clerk": Case({"scheme": "clerk", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                      _json({"type": "user.created", "data": {"id": "user_2x"}}), AS_JSON),
        "resend": Case({"scheme": "resend", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                       _json({"type": "email.delivered", "data": {"email_id": "em_1"}}),
                       AS_JSON),
        "openai": Case({"scheme": "openai", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                       _json({"type": "response.completed", "data": {"id": "resp_1"}}),
                       AS_JSON),
        "discord": Case({"scheme": "discord", "public_key": DISCORD_PUBLIC},
                        _json({"id": "1100", "type": 3, "data": {"custom_id": "approve:77"}}),
                        AS_JSON, {"private_key": DISCORD_KEY}),
        "zoom": Case({"scheme": "zoom", "secrets": [secret]},
                     _json({"event": "meeting.ended", "payload": {"object": {"id": "85"}}}),
                     AS_JSON),
        "meta": Case({"scheme": "meta", "secrets": [secret], "verify_token": "verify-me"},
                     _json({"object": "whatsapp_business_account",
                            "entry": [{"id": "1", "changes": []}]}), AS_JSON),
        "square": Case({"scheme": "square", "secrets": [secret],
                        "notification_url": "https://hooks.example.com/webhooks/square"},
                       _json({"event_id": "6a8f5f28", "type": "payment.updated"}), AS_JSON),
        "paddle": Case({"scheme": "paddle", "secrets": [secret]},
                       _json({"event_id": "evt_01h", "event_type": "transaction.completed"}),
                       AS_JSON),
        "lemonsqueezy": Case({"scheme": "lemonsqueezy", "secrets": [secret]},
                             _json({"meta": {"event_name": "order_created"}}), AS_JSON),
        "linear": Case({"scheme": "linear", "secrets": [secret]},
                       _json({"action": "update", "type": "Issue", "webhookTimestamp": now_ms,
                              "data": {"id": "iss_1"}}),
                       {**AS_JSON, "linear-delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72"}),
        "calendly": Case({"scheme": "calendly", "secrets": [secret]},
                         _json({"event": "invitee.created", "payload": {"uri": "inv/1"}}),
                         AS_JSON),
        "docusign": Case({"scheme": "docusign", "secrets": [secret]},
                         _json({"event": "envelope-completed",
                                "data": {"envelopeId": "93be49ab"}}), AS_JSON),
        "intercom": Case({"scheme": "intercom", "secrets": [secret]},
                         _json({"type": "notification_event", "id": "notif_1",
                                "topic": "conversation.admin.closed"}), AS_JSON),
        "mailgun": Case({"scheme": "mailgun", "secrets": [secret]},
                        _json({"signature": {"timestamp": "0", "token": "t", "signature": "s"},
                               "event-data": {"id": "Ase7i2zsRYeDXztHGENqRA",
                                              "event": "delivered"}}), AS_JSON),
        "sendgrid": Case({"scheme": "sendgrid", "public_key": SENDGRID_PUBLIC},
                         _json([{"email": "a@example.com", "event": "delivered",
                                 "sg_event_id": "sg_1"}]), AS_JSON,
                         {"private_key": SENDGRID_KEY}),
        "plaid": Case({"scheme": "plaid", "jwks_file": jwks_files.get("plaid", "")},
                      _json({"webhook_type": "TRANSFER", "webhook_code": "TRANSFER_EVENTS_UPDATE",
                             "environment": "sandbox"}), AS_JSON,
                      {"private_key": PLAID_KEY, "kid": PLAID_KID}),
        "google-pubsub": Case(
            {"scheme": "google-pubsub", "audience": "https://hooks.example.com/pubsub",
             "service_account_email": "push@acme.iam.gserviceaccount.com",
             "jwks_file": jwks_files.get("google-pubsub")},
            _json({"message": {"data": "eyJvcmRlciI6IDF9", "messageId": "2070443601311540"},
                   "subscription": "projects/acme/subscriptions/orders"}), AS_JSON,
            {"private_key": GOOGLE_KEY, "kid": GOOGLE_KID}),
        "gitlab": Case({"scheme": "gitlab", "secrets": [secret]},
                       _json({"object_kind": "merge_request"}),
                       {**AS_JSON, "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e"}),
        "dropbox": Case({"scheme": "dropbox", "secrets": [secret]},
                        _json({"list_folder": {"accounts": ["dbid:AAH4f99"]}}), AS_JSON),
        "msgraph": Case({"scheme": "msgraph", "secrets": [secret]},
                        _json({"value": [{"subscriptionId": "7f105c7d", "clientState": secret,
                                          "changeType": "created",
                                          "resource": "Users/1/Messages/2"}]}), AS_JSON),
        "custom": Case({"scheme": "custom", "header": "x-acme-signature", "encoding": "base64",
                        "algorithm": "hmac-sha512", "secrets": [secret],
                        "pairs": {"separator": ";", "timestamp": "time", "signature": "sig"},
                        "signed_content": "{timestamp}|{body}"},
                       _json({"id": "acme_1"}), AS_JSON),
    }


def options(case: Case) -> Any:
    """The verifier options (the preset expanded) for a case."""
    return verifier_options(SPEC.validate_python(case.options))


def signed_body(name: str, case: Case, verifier: Any, timestamp: int) -> bytes:
    """The body as sent: Mailgun signs inside the body."""
    return refresh_body(verifier, case.body, timestamp)
