"""Every example config under config/ loads and routes a realistic callback."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from routing import Callback, JobTarget, KeyTarget, evaluate, load_config

CONFIG = Path(__file__).resolve().parents[2] / "config"
ENV = {"STRIPE_WEBHOOK_SECRET": "whsec_test", "GITHUB_WEBHOOK_SECRET": "gh",
       "SLACK_SIGNING_SECRET": "sl", "TWILIO_AUTH_TOKEN": "tw",
       "ACCOUNTS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
       "PARTNER_JWT_SECRET": "pj", "PADDLE_WEBHOOK_SECRET": "pdl_ntfset_test",
       "DISCORD_PUBLIC_KEY": "a" * 64}


def route(file: str, path: str, body: bytes, headers: dict[str, str]):
    config = load_config(CONFIG / file, ENV)
    source, params = config.match(path)
    return evaluate(source, Callback(body=body, headers=headers, params=params))


def json_post(file, path, payload, **headers):
    return route(file, path, json.dumps(payload).encode(),
                 {"content-type": "application/json", **headers})


def test_every_example_config_loads():
    files = sorted(p.name for p in CONFIG.glob("*.yaml"))
    assert {"stripe.yaml", "github.yaml", "slack.yaml", "twilio.yaml", "standard.yaml",
            "jwt-partner.yaml", "discord.yaml", "paddle.yaml"} <= set(files)
    for file in files:
        load_config(CONFIG / file, ENV)


def test_stripe_payment_approval():
    result = json_post("stripe.yaml", "/webhooks/stripe", {
        "id": "evt_1", "type": "payment_intent.succeeded",
        "data": {"object": {"amount": 2000, "currency": "usd", "metadata": {"job_id": "12"}}}})
    assert result.delivery_id == "evt_1"
    (delivery,) = result.deliveries
    assert delivery.target == JobTarget((12,))
    assert delivery.payload == {"decision": "approved", "amount": 2000, "currency": "usd"}


def test_stripe_decline_without_error_details():
    result = json_post("stripe.yaml", "/webhooks/stripe", {
        "id": "evt_2", "type": "payment_intent.payment_failed",
        "data": {"object": {"metadata": {"job_id": "12"}}}})
    assert result.deliveries[0].payload == {"decision": "declined", "reason": "unknown"}


def test_github_pull_request_review():
    result = json_post("github.yaml", "/webhooks/github", {
        "action": "submitted", "review": {"state": "approved", "user": {"login": "ana"},
                                          "commit_id": "abc"},
        "pull_request": {"number": 7}, "repository": {"full_name": "acme/api"}},
        **{"x-github-event": "pull_request_review", "x-github-delivery": "guid-1"})
    assert result.delivery_id == "guid-1"
    assert result.deliveries[0].target == KeyTarget("pr:acme/api#7")
    assert result.deliveries[0].payload == {"state": "approved", "reviewer": "ana",
                                            "commit": "abc"}


def test_slack_interactivity_button():
    payload = {"type": "block_actions", "user": {"username": "ana"},
               "actions": [{"action_id": "approve", "value": "31"}]}
    result = route("slack.yaml", "/webhooks/slack/interactivity",
                   urlencode({"payload": json.dumps(payload)}).encode(),
                   {"content-type": "application/x-www-form-urlencoded"})
    assert result.deliveries[0].target == JobTarget((31,))
    assert result.deliveries[0].payload == {"decision": "approve", "user": "ana"}


@pytest.mark.parametrize(("status", "routed"), [("delivered", True), ("sent", False)])
def test_twilio_status_callback(status, routed):
    result = route("twilio.yaml", "/webhooks/twilio/status/55",
                   urlencode({"MessageStatus": status, "MessageSid": "SM1"}).encode(),
                   {"content-type": "application/x-www-form-urlencoded",
                    "i-twilio-idempotency-token": "tok-1"})
    assert result.delivery_id == "tok-1"
    if routed:
        assert result.deliveries[0].target == JobTarget((55,))
        assert result.deliveries[0].payload == {"status": status, "sid": "SM1", "error": None}
    else:
        assert result.outcome == "unrouted"


def test_standard_webhooks_user_verified():
    result = json_post("standard.yaml", "/webhooks/accounts",
                       {"type": "user.verified", "data": {"id": "u_9", "email": "a@b.c"}},
                       **{"webhook-id": "msg_1"})
    assert result.delivery_id == "msg_1"
    assert result.deliveries[0].target == KeyTarget("user:u_9")


def test_jwt_partner_decision():
    result = json_post("jwt-partner.yaml", "/callbacks/partner/8",
                       {"decision": "approved", "reference": "r-1"})
    assert result.deliveries[0].target == JobTarget((8,))


def test_discord_button_click_names_the_job_and_the_decision():
    result = json_post("discord.yaml", "/webhooks/discord", {
        "id": "1200", "type": 3, "token": "itok", "data": {"custom_id": "reject:42"},
        "member": {"user": {"username": "ana"}}})
    assert result.delivery_id == "1200"
    (delivery,) = result.deliveries
    assert delivery.target == JobTarget((42,))
    assert delivery.payload == {"decision": "reject", "user": "ana", "token": "itok"}
    other = json_post("discord.yaml", "/webhooks/discord", {
        "id": "1201", "type": 3, "data": {"custom_id": "menu:7"}})
    assert other.outcome == "unrouted"


def test_paddle_transaction_completed():
    result = json_post("paddle.yaml", "/webhooks/paddle", {
        "event_id": "evt_01hv", "event_type": "transaction.completed",
        "data": {"id": "txn_01", "custom_data": {"job_id": "9"},
                 "details": {"totals": {"total": "2400"}}}})
    assert result.delivery_id == "evt_01hv"
    assert result.deliveries[0].target == JobTarget((9,))
    assert result.deliveries[0].payload == {"status": "paid", "transaction": "txn_01",
                                            "total": "2400"}
