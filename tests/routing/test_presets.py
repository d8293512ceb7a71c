"""Preset configs: a missing option or an unknown preset is an error with its line, and
every preset listed by `waitpoint providers` is accepted by the config."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from routing import ConfigError, parse_config
from routing.presets import PRESETS, SCHEMES
from waitpoint.cli import build_cli


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "routes.yaml", {})
    return [(i.line, ".".join(map(str, i.path)), i.message) for i in caught.value.issues]


@pytest.mark.parametrize(("verify", "field", "message"), [
    ("{scheme: discord}", "public_key", "discord needs 'public_key'"),
    ("{scheme: meta, secrets: [s]}", "verify_token", "meta needs 'verify_token'"),
    ("{scheme: sendgrid}", "public_key", "sendgrid needs 'public_key'"),
    ("{scheme: google-pubsub, audience: a}", "service_account_email",
     "google-pubsub needs 'service_account_email'"),
    ("{scheme: plaid}", "", "plaid needs client_id and secret (to fetch verification keys) "
                            "or jwks_file"),
    ("{scheme: discord, public_key: abcd}", "public_key", "not a usable ed25519 public key"),
    ("{scheme: custom, header: x-sig, algorithm: ed25519, secrets: [s]}", "",
     "ed25519 needs public_keys"),
    ("{scheme: custom, header: x-sig, signed_content: '{timestamp}.{body}', secrets: [s]}", "",
     "signed_content uses {timestamp} but there is no timestamp_header or pairs.timestamp"),
])
def test_a_preset_missing_an_option_names_its_line(verify, field, message):
    text = f"version: 1\nsources:\n  a:\n    path: /a\n    verify: {verify}\n"
    ((line, path, found),) = problems(text)
    assert line == 5
    assert path == "sources.a.verify" + (f".{field}" if field else "")
    assert found.startswith(message)


def test_an_unknown_preset_lists_the_known_ones():
    ((line, path, message),) = problems(
        "version: 1\nsources:\n  a:\n    path: /a\n    verify:\n      scheme: strype\n")
    assert (line, path) == (6, "sources.a.verify")  # the line of its scheme
    assert message == ("unknown scheme 'strype'; did you mean 'stripe'? Known schemes: "
                       + ", ".join(SCHEMES))
    assert {"paddle", "google-pubsub", "custom", "msgraph"} <= set(SCHEMES)


def test_paddle_takes_its_providers_tolerance_unless_the_config_sets_one():
    base = "version: 1\nsources:\n  a:\n    path: /a\n    verify: {scheme: paddle, secrets: [s]"
    assert parse_config(base + "}\n").sources["a"].verifier.tolerance == 5
    assert parse_config(base + ", tolerance: 30}\n").sources["a"].verifier.tolerance == 30


def test_providers_command_lists_every_preset():
    result = CliRunner().invoke(build_cli(), ["providers", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["scheme"]: row for row in json.loads(result.output)}
    assert set(listed) == set(PRESETS)
    assert listed["meta"]["handshake"].startswith("GET hub.mode=subscribe")
    assert listed["gitlab"]["headers"] == ["X-Gitlab-Token"]
    assert listed["stripe"]["delivery_id"] == "body.id"
    text = CliRunner().invoke(build_cli(), ["providers"]).output
    assert "discord  (Discord interactions)" in text and "handshake:   PING" in text
