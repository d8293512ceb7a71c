"""Record and replay, through the pytest plugin the way a user uses it, into waiting jobs."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import uuid
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest
from pydantic import TypeAdapter

import routing
from ingest.app import create_app
from ingest.receiver_sql import RECEIVER_TRACKS
from ingest.recording_file import RecordingError, load_recording
from ingest.replay import replay_events
from ingest.verify import SignedRequest, VerificationError, sign, verify
from routing.schemes import VerifySpec
from waitpoint import Waitpoint
from waitpoint.schema import migrate

from ..waitpoint.workers import KeyedWaiter
from .presets import DISCORD_KEY, GOOGLE_KEY, PLAID_KEY, SENDGRID_KEY
from .presets import cases as preset_cases

PRESET_NAMES = sorted(preset_cases({}))

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "recordings"
ROUTES = RECORDINGS / "routes.yaml"
KEYS = {
    "stripe": ("stripe:pi_3QHq8k2eZvKYlo2C0bV1nTzX", {"amount": 4200, "status": "succeeded"}),
    "github": ("github:acme/payments#42", {"state": "approved"}),
    "slack": ("slack:refund-77", {"action": "approve"}),
    "shopify": ("shopify:820982911946154508", {"financial_status": "paid"}),
    "twilio-form": ("twilio:SM1f0e8ae6ade43cb3c0ce4525424e404f", {"status": "delivered"}),
    "twilio-json": ("twilio:EXa1b2c3d4", {"status": "completed"}),
    "twilio-sha256": ("twilio:SM1f0e8ae6ade43cb3c0ce4525424e404f", {"status": "delivered"}),
    "standard": ("standard:user_29w83sxmDNGwOuEthce5gg56FcC", {"type": "user.verified"}),
    "jwt": ("partner:kyc-5521", {"decision": "approved"}),
    **{f"preset-{name}": (f"preset:{name}", {"source": name}) for name in PRESET_NAMES},
}
ENV = {"REC_KEYS": str(RECORDINGS / "keys")}
SIGNING_KEYS = {"preset-discord": DISCORD_KEY, "preset-sendgrid": SENDGRID_KEY,
                "preset-plaid": PLAID_KEY, "preset-google-pubsub": GOOGLE_KEY}


@pytest.mark.parametrize("name", sorted(KEYS))
async def test_every_recording_resumes_a_waiting_job(waitpoint_receiver, name):
    receiver = await waitpoint_receiver(ROUTES, queues={"approvals": 5}, env=ENV)
    key, payload = KEYS[name]
    job = await KeyedWaiter.enqueue({"key": key, "wait_timeout": 0})
    await receiver.wait_for_state(job.id, "suspended")
    replayed = await receiver.replay(RECORDINGS / f"{name}.json",
                                     signing_key=SIGNING_KEYS.get(name))
    assert replayed.status == 200, replayed.answer
    assert replayed.event.outcome == "routed"
    assert replayed.signals[0]["reached"] == [job.id]
    # Signature headers and shared tokens (GitLab's) are redacted in the stored event.
    assert "test-secret-0123456789abcdef" not in json.dumps(replayed.event.headers)
    done = await receiver.wait_for_state(job.id, "completed")
    assert done.recorded == payload


@pytest.mark.parametrize("name", sorted(KEYS))
async def test_every_recording_verifies_as_recorded_and_not_when_tampered(name):
    recording = load_recording(RECORDINGS / f"{name}.json")
    config = routing.load_config(ROUTES, ENV)
    source = config.sources[recording.source]
    public = getattr(source.verifier, "public_url", None) or "https://hooks.example.com"
    url = getattr(source.verifier, "url", None) or public + recording.path + (
        f"?{urlencode(recording.query)}" if recording.query else "")
    at = recording.received_at.timestamp()
    signed = SignedRequest(recording.raw_body, recording.headers, url)
    await verify(signed, source.verifier, now=at)
    if name in ("preset-gitlab", "preset-msgraph", "preset-google-pubsub", "preset-mailgun"):
        return  # their proof does not cover the body (test_presets has their negatives)
    tampered = recording.raw_body + b" "
    with pytest.raises(VerificationError):
        await verify(SignedRequest(tampered, recording.headers, url), source.verifier, now=at)


async def test_an_old_recording_sent_byte_for_byte_fails_the_tolerance(waitpoint_receiver):
    receiver = await waitpoint_receiver(ROUTES, queues={})
    replayed = await receiver.replay(RECORDINGS / "stripe.json", resign=False)
    assert replayed.status == 401 and replayed.answer["error"] == "stale_timestamp"
    assert replayed.event is None


async def test_record_then_replay_gives_the_same_outcome(waitpoint_receiver, waitpoint_schema,
                                                         waitpoint_database_url, tmp_path,
                                                         aiohttp_client):
    receiver = await waitpoint_receiver(ROUTES, queues={}, record_dir=tmp_path)
    options = receiver.config.sources["github"].verify
    body = json.dumps({"review": {"state": "changes_requested"}, "pull_request": {"number": 9},
                       "repository": {"full_name": "acme/api"}}).encode()
    headers = {"content-type": "application/json", "x-github-event": "pull_request_review",
               "x-github-delivery": "d-1", **sign(options, body)}
    live = await receiver.client.post("/webhooks/github", data=body, headers=headers)
    bad = await receiver.client.post("/webhooks/github", data=body,
                                     headers={**headers, "x-hub-signature-256": "sha256=00"})
    assert (live.status, bad.status) == (200, 401)
    recorded = sorted(tmp_path.glob("*.json"))
    assert len(recorded) == 2
    first, second = (load_recording(path) for path in recorded)
    assert first.response.status == 200 and first.response.outcome == "routed"
    assert second.response.status == 401 and second.response.outcome == "bad_signature"
    assert first.raw_body == body and first.headers["x-github-delivery"] == "d-1"

    # The same request against a fresh installation: same outcome.
    fresh_schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(waitpoint_database_url)
    await migrate(conn, fresh_schema, RECEIVER_TRACKS)
    try:
        async with Waitpoint(waitpoint_database_url, schema=fresh_schema, queues={}) as other:
            client = await aiohttp_client(create_app(receiver.config, other))
            replayed = await client.post(first.path, data=first.raw_body,
                                         headers=first.headers)
            assert replayed.status == 200
            assert (await replayed.json())["outcome"] == first.response.outcome
    finally:
        await conn.execute(f"DROP SCHEMA {fresh_schema} CASCADE")
        await conn.close()


CONFIG_V1 = textwrap.dedent("""\
    version: 1
    sources:
      shop:
        path: /webhooks/shop
        verify: {scheme: hmac, secrets: ["shop-secret-0123456789abcdef0123"], header: x-sig}
        delivery_id: body.id
        routes:
          - when: body.type == 'order.paid'
            signal: {key: "'order:' + body.order"}
    """)
CONFIG_V2 = CONFIG_V1.replace("when: body.type == 'order.paid'",
                              "when: body.type in ['order.paid', 'order.settled']")


async def test_replaying_stored_events_after_a_routing_fix(waitpoint_receiver, tmp_path):
    (tmp_path / "v1.yaml").write_text(CONFIG_V1)
    receiver = await waitpoint_receiver(tmp_path / "v1.yaml", queues={"approvals": 5})
    options = TypeAdapter(VerifySpec).validate_python(
        {"scheme": "hmac", "secrets": ["shop-secret-0123456789abcdef0123"], "header": "x-sig"})
    body = json.dumps({"id": "e-1", "type": "order.settled", "order": "55"}).encode()
    response = await receiver.client.post("/webhooks/shop", data=body, headers={
        "content-type": "application/json", **sign(options, body)})
    assert (await response.json())["outcome"] == "unrouted"

    job = await KeyedWaiter.enqueue({"key": "order:55", "wait_timeout": 0})
    await receiver.wait_for_state(job.id, "suspended")
    fixed = routing.parse_config(CONFIG_V2, "v2.yaml", {})
    (result,) = await replay_events(receiver.waitpoint, fixed, outcome="unrouted")
    assert result.outcome == "routed" and result.signals == 1
    await receiver.wait_for_state(job.id, "completed")

    # Idempotent: the event has signalled now, so it is left alone ...
    (again,) = await replay_events(receiver.waitpoint, fixed, source="shop")
    assert again.outcome == "skipped: already signalled"
    # ... unless forced (nobody waits on the key any more: the signal is kept for later).
    (forced,) = await replay_events(receiver.waitpoint, fixed, source="shop", force=True)
    assert forced.outcome == "routed"
    event = await receiver.waitpoint.pool.fetchrow(
        f"SELECT outcome, replays, jsonb_array_length(signals) AS signalled"
        f" FROM {receiver.waitpoint.schema}.events")
    assert dict(event) == {"outcome": "routed", "replays": 2, "signalled": 2}


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ('{"format": 2, "source": "s", "path": "/x", "headers": {}, "body": "",'
     ' "received_at": "2026-11-01T00:00:00Z"}', "format: Input should be 1"),
    ('{"format": 1, "source": "s", "path": "/x", "headers": {},'
     ' "received_at": "2026-11-01T00:00:00Z"}', "give exactly one of body and body_base64"),
    ('{"format": 1, "source": "s", "path": "x", "headers": {}, "body": "",'
     ' "received_at": "yesterday"}', "path: String should match pattern"),
])
def test_corrupted_recordings_name_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(RecordingError) as caught:
        load_recording(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


async def test_replay_command_against_a_running_receiver(waitpoint_receiver, tmp_path):
    receiver = await waitpoint_receiver(ROUTES, queues={"approvals": 5})
    job = await KeyedWaiter.enqueue({"key": KEYS["github"][0], "wait_timeout": 0})
    await receiver.wait_for_state(job.id, "suspended")
    url = str(receiver.client.make_url("/")).rstrip("/")
    mismatching = tmp_path / "expects-401.json"
    data = json.loads((RECORDINGS / "shopify.json").read_text())
    mismatching.write_text(json.dumps({**data, "expect": {"status": 401}}))

    async def cli(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "waitpoint", "replay", *args, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        return process.returncode, out.decode(), err.decode()

    code, out, err = await cli(str(RECORDINGS / "github.json"), "--url", url, "--resign",
                               "--config", str(ROUTES))
    assert code == 0, err
    assert "github.json  200     routed" in out and "1 replayed, 0 differing" in out
    await receiver.wait_for_state(job.id, "completed")

    code, out, _ = await cli(str(mismatching), "--url", url, "--resign", "--config", str(ROUTES))
    assert code == 1 and "MISMATCH: expected status 401" in out

    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    code, _, err = await cli(str(broken), "--url", url)
    assert code == 1 and f"{broken}: " in err and "format: Field required" in err


def test_every_recording_file_is_tested():
    files = {path.stem for path in RECORDINGS.glob("*.json")}
    assert files == set(KEYS)
