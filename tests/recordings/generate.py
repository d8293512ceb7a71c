"""Regenerate the recordings in this folder: `python tests/recordings/generate.py`.

They are signed with routes.yaml's test secrets at a fixed time in the past, so replaying
them byte for byte fails the timestamp check, and `--resign` makes them pass.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from ingest.recording_file import Outcome, Recording
from ingest.verify import refresh_body, sign
from routing import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.ingest.presets import cases

HERE = Path(__file__).parent
RECORDED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TIMESTAMP = int(RECORDED_AT.timestamp())
CONFIG = load_config(HERE / "routes.yaml", {"REC_KEYS": str(HERE / "keys")})
EXPECT = Outcome(status=200, outcome="routed")


ONLY = set(sys.argv[1:])
"""Names to write (all when none is given): `generate.py twilio-sha256` adds one recording
without re-signing the others (public-key signatures are not deterministic)."""


def write(name: str, source: str, path: str, body: bytes, headers: dict[str, str],
          note: str, query: dict[str, str] | None = None, url: str = "",
          **signing: object) -> None:
    if ONLY and name not in ONLY:
        return
    verifier = CONFIG.sources[source].verifier
    body = refresh_body(verifier, body, TIMESTAMP)
    signed = sign(verifier, body, timestamp=TIMESTAMP, url=url,
                  message_id="msg_2kTuVyFNm3Ap2fX9dBz1RQ", **signing)
    recording = Recording.of_request(source, "POST", path, query or {},
                                     {**headers, **signed}, body, note=note, expect=EXPECT)
    recording = recording.model_copy(update={"received_at": RECORDED_AT})
    (HERE / f"{name}.json").write_text(recording.dumps(), encoding="utf-8")


def main() -> None:
    as_json = {"content-type": "application/json", "user-agent": "recorded-fixture"}
    write("stripe", "stripe", "/webhooks/stripe", json.dumps({
        "id": "evt_3QHq8k2eZvKYlo2C0l4hQm1b", "object": "event", "api_version": "2024-06-20",
        "created": TIMESTAMP, "livemode": False, "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_3QHq8k2eZvKYlo2C0bV1nTzX", "object": "payment_intent",
                            "amount": 4200, "currency": "eur", "status": "succeeded",
                            "metadata": {"order_id": "1001"}}},
    }, indent=2).encode(), {**as_json, "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
        "a PaymentIntent that succeeded")
    write("github", "github", "/webhooks/github", json.dumps({
        "action": "submitted",
        "review": {"id": 2163, "state": "approved", "user": {"login": "octocat"},
                   "commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "pull_request": {"number": 42, "title": "Add retries"},
        "repository": {"full_name": "acme/payments"}, "sender": {"login": "octocat"},
    }).encode(), {**as_json, "x-github-event": "pull_request_review",
                  "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                  "user-agent": "GitHub-Hookshot/2e3b1c9"}, "an approving pull request review")
    slack_payload = {"type": "block_actions", "user": {"id": "U0CA5", "username": "ana"},
                     "actions": [{"action_id": "approve", "value": "refund-77",
                                  "type": "button"}]}
    write("slack", "slack", "/webhooks/slack",
          urlencode({"payload": json.dumps(slack_payload)}).encode(),
          {"content-type": "application/x-www-form-urlencoded",
           "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
          "an Approve button clicked in Slack")
    write("shopify", "shopify", "/webhooks/shopify", json.dumps({
        "id": 820982911946154508, "email": "jon@example.com", "financial_status": "paid",
        "total_price": "199.00", "currency": "USD"}).encode(),
        {**as_json, "x-shopify-topic": "orders/paid", "x-shopify-shop-domain": "acme.myshopify.com",
         "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
        "an order that was paid")
    form = urlencode({"MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
                      "MessageStatus": "delivered", "AccountSid": "AC0123",
                      "To": "+15558675310"}).encode()
    write("twilio-form", "twilio", "/webhooks/twilio", form,
          {"content-type": "application/x-www-form-urlencoded",
           "i-twilio-idempotency-token": "2b8f2d6d-4f62-4d0e-9b44-0c7e2c1d3a11"},
          "an SMS status callback (form)", url="https://hooks.example.com/webhooks/twilio")
    write("twilio-sha256", "twilio", "/webhooks/twilio", form,
          {"content-type": "application/x-www-form-urlencoded",
           "i-twilio-idempotency-token": "5c1e9a7f-0d2b-4c8e-a6f3-9b2d7e4c1a08"},
          "an SMS status callback signed with HMAC-SHA256 (signature settings header)",
          url="https://hooks.example.com/webhooks/twilio", algorithm="sha256")
    body = json.dumps({"sid": "EXa1b2c3d4", "status": "completed"}).encode()
    query = {"bodySHA256": hashlib.sha256(body).hexdigest()}
    write("twilio-json", "twilio", "/webhooks/twilio", body, as_json,
          "a JSON callback (bodySHA256 variant)", query=query,
          url=f"https://hooks.example.com/webhooks/twilio?{urlencode(query)}")
    write("standard", "standard", "/webhooks/standard", json.dumps({
        "type": "user.verified", "timestamp": RECORDED_AT.isoformat(),
        "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "email": "a@example.com"},
    }).encode(), as_json, "a Standard Webhooks (Svix-style) event")
    write("jwt", "partner", "/webhooks/partner",
          json.dumps({"decision": "approved", "reference": "kyc-5521"}).encode(), as_json,
          "a JWT-signed partner callback (HS256, body hash claim)")

    for name, case in cases({}).items():
        write(f"preset-{name}", name, f"/presets/{name}", case.body, case.headers,
              f"a callback as {name} sends it", url=f"https://hooks.example.com/presets/{name}",
              **case.sign)


if __name__ == "__main__":
    main()
