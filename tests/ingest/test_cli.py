"""`waitpoint check-config` and `waitpoint route`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "STRIPE_WEBHOOK_SECRET": "whsec_test", "PARTNER_JWT_SECRET": "pj"}


def cli(*args: str, stdin: bytes | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "waitpoint", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=60, env=env or ENV)


def test_check_config_summarises_each_source():
    result = cli("check-config", "config/stripe.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == (
        "stripe: /webhooks/stripe  scheme=stripe  routes=3  delivery_id=body.id")


def test_check_config_lists_every_error_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsources:\n  a:\n    path: /a\n    verify: {scheme: nope}\n"
                   "    routes:\n      - {when: 'body.x ==', signal: {job: 1}}\n")
    result = cli("check-config", str(bad))
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "2 errors" in err and f"{bad}:5: sources.a.verify: unknown scheme" in err
    assert f"{bad}:7: sources.a.routes[0].when" in err


def test_check_config_names_a_missing_variable():
    env = {k: v for k, v in ENV.items() if k != "STRIPE_WEBHOOK_SECRET"}
    result = cli("check-config", "config/stripe.yaml", env=env)
    assert result.returncode == 1
    assert b"STRIPE_WEBHOOK_SECRET is not set" in result.stderr


def test_route_prints_deliveries_with_decoded_payloads():
    event = {"id": "evt_9", "type": "payment_intent.succeeded",
             "data": {"object": {"amount": 100, "currency": "eur", "metadata": {"job_id": "5"}}}}
    result = cli("route", "config/stripe.yaml", "--source", "stripe", "--body", "-",
                 stdin=json.dumps(event).encode())
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["outcome"] == "routed" and printed["delivery_id"] == "evt_9"
    assert printed["deliveries"] == [{"route": "payment-approved", "target": {"jobs": [5]},
                                      "payload": {"decision": "approved", "amount": 100,
                                                  "currency": "eur"}}]


def test_route_by_path_fills_params_and_reports_unrouted():
    result = cli("route", "config/jwt-partner.yaml", "--path", "/callbacks/partner/8",
                 "--body", "-", stdin=b'{"decision": "approved", "reference": "r"}')
    assert json.loads(result.stdout)["deliveries"][0]["target"] == {"jobs": [8]}
    unrouted = cli("route", "config/stripe.yaml", "--source", "stripe", "--body", "-",
                   stdin=b'{"id": "evt_1", "type": "customer.created"}')
    assert json.loads(unrouted.stdout)["outcome"] == "unrouted"


def test_route_rejects_a_malformed_body():
    result = cli("route", "config/stripe.yaml", "--source", "stripe", "--body", "-",
                 stdin=b"{nope")
    assert result.returncode == 1 and b"body is not valid JSON" in result.stderr


def test_a_bad_since_is_one_line_saying_what_it_accepts():
    for value in ("2", "yesterday"):
        result = cli("replay", "--events", "--config", "config/stripe.yaml", "--since", value)
        assert result.returncode == 2
        err = result.stderr.decode()
        assert "Traceback" not in err
        assert "expected an ISO time" in err and "30m, 2h, 7d" in err and repr(value) in err


def test_the_readme_providers_table_is_the_codes():
    from ingest.cli import providers_table

    assert providers_table() in (ROOT / "README.md").read_text()


def test_providers_lists_every_option_of_each_scheme():
    result = cli("providers")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "options:     audience, service_account_email, jwks_url?, jwks_file?" in text
    assert "options:     secrets, tolerance=300" in text  # stripe
    listed = json.loads(cli("providers", "--json").stdout)
    plaid = next(row for row in listed if row["scheme"] == "plaid")
    assert {o["name"] for o in plaid["options"]} >= {"client_id", "secret", "jwks_file"}


def test_route_exits_1_when_a_route_cannot_deliver():
    event = {"id": "evt_9", "type": "payment_intent.succeeded",
             "data": {"object": {"amount": 100, "currency": "eur", "metadata": {}}}}
    result = cli("route", "config/stripe.yaml", "--source", "stripe", "--body", "-",
                 stdin=json.dumps(event).encode())
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert printed["outcome"] == "no_target" and printed["errors"]
