"""Provider handshakes through the real receiver: answered by the receiver, nothing stored;
a wrong token or signature is refused like any other request."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap

import pytest
import structlog

from ingest.verify import sign

from ..waitpoint.workers import KeyedWaiter
from .presets import DISCORD_KEY, DISCORD_PUBLIC

SECRET = "handshake-secret-0123456789abcdef"
CONFIG = textwrap.dedent(f"""\
    version: 1
    sources:
      discord:
        path: /hooks/discord
        verify: {{scheme: discord, public_key: "{DISCORD_PUBLIC}"}}
        routes:
          - signal:
              key: "'discord:' + body.data.custom_id"
              payload: {{user: body.member.user.id}}
      zoom:
        path: /hooks/zoom
        verify: {{scheme: zoom, secrets: ["{SECRET}"]}}
      meta:
        path: /hooks/meta
        verify: {{scheme: meta, secrets: ["{SECRET}"], verify_token: "my-verify-token"}}
      dropbox:
        path: /hooks/dropbox
        verify: {{scheme: dropbox, secrets: ["{SECRET}"]}}
      graph:
        path: /hooks/graph
        verify: {{scheme: msgraph, secrets: ["{SECRET}"]}}
    """)


@pytest.fixture
async def receiver(waitpoint_receiver, tmp_path):
    (tmp_path / "routes.yaml").write_text(CONFIG)
    return await waitpoint_receiver(tmp_path / "routes.yaml", queues={"approvals": 5})


async def events(receiver) -> int:
    return await receiver.waitpoint.pool.fetchval(
        f"SELECT count(*) FROM {receiver.waitpoint.schema}.events")


async def post_signed(receiver, source: str, body: bytes, **signing):
    verifier = receiver.config.sources[source].verifier
    headers = {"content-type": "application/json", **sign(verifier, body, **signing)}
    path = receiver.config.sources[source].path
    return await receiver.client.post(path, data=body, headers=headers)


async def test_discord_ping_is_answered_with_a_pong_and_stores_nothing(receiver):
    response = await post_signed(receiver, "discord", b'{"type": 1, "id": "1"}',
                                 private_key=DISCORD_KEY)
    assert response.status == 200 and await response.json() == {"type": 1}
    unsigned = await receiver.client.post("/hooks/discord", data=b'{"type": 1}',
                                          headers={"x-signature-ed25519": "00" * 64,
                                                   "x-signature-timestamp": "1"})
    assert unsigned.status == 401
    assert await events(receiver) == 0


async def test_a_discord_button_resumes_the_job_and_gets_a_deferred_update(receiver):
    job = await KeyedWaiter.enqueue({"key": "discord:approve:42", "wait_timeout": 0})
    await receiver.wait_for_state(job.id, "suspended")
    body = json.dumps({"id": "1200", "type": 3, "data": {"custom_id": "approve:42"},
                       "member": {"user": {"id": "80351110224678912"}}}).encode()
    response = await post_signed(receiver, "discord", body, private_key=DISCORD_KEY)
    assert response.status == 200
    assert await response.json() == {"type": 6}  # DEFERRED_UPDATE_MESSAGE
    assert response.headers["Waitpoint-Outcome"] == "routed"
    done = await receiver.wait_for_state(job.id, "completed")
    assert done.recorded == {"user": "80351110224678912"}


async def test_zoom_url_validation_returns_the_encrypted_token(receiver):
    body = json.dumps({"event": "endpoint.url_validation",
                       "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}).encode()
    response = await post_signed(receiver, "zoom", body)
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.status == 200
    assert await response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                                     "encryptedToken": expected}
    forged = await receiver.client.post("/hooks/zoom", data=body, headers={
        "x-zm-signature": "v0=" + "0" * 64, "x-zm-request-timestamp": "1"})
    assert forged.status == 401
    assert await events(receiver) == 0


async def test_meta_subscription_checks_the_verify_token(receiver):
    params = {"hub.mode": "subscribe", "hub.verify_token": "my-verify-token",
              "hub.challenge": "1158201444"}
    ok = await receiver.client.get("/hooks/meta", params=params)
    assert ok.status == 200 and await ok.text() == "1158201444"
    assert ok.headers["Content-Type"].startswith("text/plain")
    wrong = await receiver.client.get("/hooks/meta",
                                      params={**params, "hub.verify_token": "guess"})
    assert wrong.status == 403 and (await wrong.json())["error"] == "bad_verify_token"
    incomplete = await receiver.client.get("/hooks/meta", params={"hub.mode": "subscribe"})
    assert incomplete.status == 400
    assert await events(receiver) == 0


async def test_meta_events_are_signed_with_the_app_secret(receiver):
    body = b'{"object": "page", "entry": []}'
    assert (await post_signed(receiver, "meta", body)).status == 200
    bad = await receiver.client.post("/hooks/meta", data=body,
                                     headers={"x-hub-signature-256": "sha256=" + "0" * 64})
    assert bad.status == 401


async def test_dropbox_challenge_is_echoed_as_plain_text(receiver):
    response = await receiver.client.get("/hooks/dropbox", params={"challenge": "<b>x</b>"})
    assert response.status == 200 and await response.text() == "<b>x</b>"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await receiver.client.get("/hooks/dropbox")).status == 400
    # Sources without a GET handshake still refuse GET.
    assert (await receiver.client.get("/hooks/zoom")).status == 405


async def test_graph_validation_token_is_echoed_then_notifications_need_client_state(receiver):
    response = await receiver.client.post("/hooks/graph?validationToken=Validation%3A+Testing",
                                          data=b"", headers={"content-type": "text/plain"})
    assert response.status == 200 and await response.text() == "Validation: Testing"
    assert await events(receiver) == 0
    good = json.dumps({"value": [{"clientState": SECRET, "subscriptionId": "s-1"}]}).encode()
    bad = json.dumps({"value": [{"clientState": "guess", "subscriptionId": "s-1"}]}).encode()
    headers = {"content-type": "application/json"}
    assert (await receiver.client.post("/hooks/graph", data=good, headers=headers)).status == 200
    assert (await receiver.client.post("/hooks/graph", data=bad, headers=headers)).status == 401
    assert await events(receiver) == 1


async def test_unfetchable_provider_keys_are_a_503_to_retry_not_a_401(waitpoint_receiver,
                                                                       tmp_path):
    """Google's keys cannot be fetched (here: nothing listens on the JWKS URL): the
    callback is not forged, we just cannot check it yet, so the provider must retry."""
    import socket

    from .presets import GOOGLE_KEY, GOOGLE_KID

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    (tmp_path / "routes.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        sources:
          pubsub:
            path: /hooks/pubsub
            verify:
              scheme: google-pubsub
              audience: https://hooks.example.com/pubsub
              service_account_email: push@acme.iam.gserviceaccount.com
              jwks_url: http://127.0.0.1:{dead}/certs?token=keep-this-out
        """))
    receiver = await waitpoint_receiver(tmp_path / "routes.yaml", queues={})
    body = b'{"message": {"messageId": "1", "data": ""}}'
    with structlog.testing.capture_logs() as logs:
        response = await post_signed(receiver, "pubsub", body, private_key=GOOGLE_KEY,
                                     kid=GOOGLE_KID)
    assert response.status == 503 and response.headers["Retry-After"] == "30"
    answer = await response.json()
    assert answer["error"] == "keys_unavailable"
    # Which key source failed, in the answer and the log line; never its query string.
    assert f"http://127.0.0.1:{dead}/certs" in answer["detail"]
    (line,) = [entry for entry in logs if entry["event"] == "webhook"]
    assert f"http://127.0.0.1:{dead}/certs" in line["detail"]
    assert "keep-this-out" not in repr(logs) + answer["detail"]
    assert await events(receiver) == 0


async def test_graph_client_state_is_never_stored_or_recorded(waitpoint_receiver, tmp_path):
    (tmp_path / "routes.yaml").write_text(CONFIG)
    recordings = tmp_path / "rec"
    receiver = await waitpoint_receiver(tmp_path / "routes.yaml", queues={},
                                        record_dir=recordings)
    secret = receiver.config.sources["graph"].verifier.secrets[0].get_secret_value()
    body = json.dumps({"value": [{"clientState": secret, "resource": "users/1",
                                  "changeType": "updated"}]}).encode()
    response = await receiver.client.post("/hooks/graph", data=body,
                                          headers={"content-type": "application/json"})
    assert response.status == 200
    wp = receiver.waitpoint
    stored = bytes(await wp.pool.fetchval(f"SELECT body FROM {wp.schema}.events"))
    assert secret.encode() not in stored and b'"clientState": "[redacted]"' in stored
    (recording,) = recordings.glob("*.json")
    assert secret not in recording.read_text()
    replayed = await receiver.replay(recording)  # --resign puts the secret back
    assert replayed.status == 200, replayed.answer
