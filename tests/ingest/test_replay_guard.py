"""Replays that a signature alone does not stop: a captured request sent again under a new
delivery id (GitHub's id is not signed), the same bytes after retention deleted their
event (no timestamp in GitHub's signature), a body swapped under a captured Mailgun
signature (it covers a timestamp and a token, not the body). Each is a duplicate: stored
as nothing, signalling nobody. Real receiver, real PostgreSQL."""

from __future__ import annotations

import json
import textwrap

import pytest
from pydantic import TypeAdapter

import routing
from ingest.app import create_app
from ingest.verify import refresh_body, sign
from routing.presets import REPLAY_WINDOW, verifier_options
from routing.schemes import VerifySpec
from waitpoint import Job

GITHUB = {"scheme": "github", "secrets": ["gh-test-secret"]}
MAILGUN = {"scheme": "mailgun", "secrets": ["mg-test-key"]}
CONFIG = textwrap.dedent("""\
    version: 1
    sources:
      github:
        path: /github
        verify: {scheme: github, secrets: ["gh-test-secret"]}
        routes:
          - signal: {job: body.job}
      mailgun:
        path: /mailgun
        verify: {scheme: mailgun, secrets: ["mg-test-key"]}
        routes:
          - signal: {job: 'body["event-data"].job'}
      stripe:
        path: /stripe
        verify: {scheme: stripe, secrets: ["whsec_test"]}
        routes:
          - signal: {job: body.data.object.job}
    """)


def options(spec: dict) -> object:
    return verifier_options(TypeAdapter(VerifySpec).validate_python(spec))


@pytest.fixture
async def receiver(start_waitpoint, aiohttp_client):
    wp = await start_waitpoint(queues={}, peer=False)
    job = (await wp.enqueue_many([Job(worker="tests.Waiting", state="suspended")],
                                 ids_only=True))[0]
    config = routing.parse_config(CONFIG, "replays.yaml", {})
    return wp, job, await aiohttp_client(create_app(config, wp))


async def signals_of(wp, job_id: int) -> int:
    return await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.signals WHERE job_id = $1",
                                  job_id)


def test_each_source_gets_the_guard_its_scheme_needs():
    config = routing.parse_config(CONFIG, "replays.yaml", {})
    github = config.sources["github"].replay_guard
    assert github is not None and github.kind == "request" and github.seconds >= REPLAY_WINDOW
    mailgun = config.sources["mailgun"].replay_guard
    assert mailgun is not None and mailgun.kind == "token" and mailgun.seconds == 300
    assert config.sources["stripe"].replay_guard is None  # id and time are both signed


async def test_a_github_request_sent_again_under_a_new_delivery_id_is_a_duplicate(receiver):
    wp, job, client = receiver
    body = json.dumps({"action": "completed", "job": job}).encode()
    headers = {"Content-Type": "application/json", **sign(options(GITHUB), body)}
    first = await client.post("/github", data=body,
                              headers={**headers, "X-GitHub-Delivery": "d-1"})
    assert first.status == 200 and (await first.json())["outcome"] == "routed"
    replayed = await client.post("/github", data=body,
                                 headers={**headers, "X-GitHub-Delivery": "d-2"})
    answer = await replayed.json()
    assert replayed.status == 200 and answer["outcome"] == "duplicate", answer
    assert answer["event_id"] is None and "Waitpoint-Event-Id" not in replayed.headers
    assert await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 1
    assert await signals_of(wp, job) == 1

    # Retention deleted the event: the same bytes are still refused (the key outlives it).
    await wp.pool.execute(f"DELETE FROM {wp.schema}.events")
    again = await client.post("/github", data=body,
                              headers={**headers, "X-GitHub-Delivery": "d-1"})
    assert (await again.json())["outcome"] == "duplicate"
    assert await signals_of(wp, job) == 1

    # A new request (another body) is a new delivery, of course.
    other = json.dumps({"action": "requested", "job": job}).encode()
    fresh = await client.post("/github", data=other, headers={
        "Content-Type": "application/json", "X-GitHub-Delivery": "d-3",
        **sign(options(GITHUB), other)})
    assert (await fresh.json())["outcome"] == "routed"
    assert await signals_of(wp, job) == 2


async def test_a_body_swapped_under_a_captured_mailgun_signature_is_refused(receiver):
    wp, job, client = receiver
    import time

    original = refresh_body(options(MAILGUN), json.dumps({
        "signature": {"timestamp": "0", "token": "t", "signature": "s"},
        "event-data": {"id": "ev-1", "event": "delivered", "job": job}}).encode(),
        int(time.time()))
    first = await client.post("/mailgun", data=original,
                              headers={"Content-Type": "application/json"})
    assert (await first.json())["outcome"] == "routed"
    captured = json.loads(original)["signature"]
    swapped = json.dumps({"signature": captured,
                          "event-data": {"id": "ev-2", "event": "failed", "job": job}}).encode()
    replayed = await client.post("/mailgun", data=swapped,
                                 headers={"Content-Type": "application/json"})
    assert replayed.status == 200 and (await replayed.json())["outcome"] == "duplicate"
    assert await signals_of(wp, job) == 1


def test_check_config_refuses_a_tolerance_longer_than_the_retention():
    text = textwrap.dedent("""\
        version: 1
        sources:
          stripe:
            path: /stripe
            retention: 2h
            verify: {scheme: stripe, secrets: ["whsec_test"], tolerance: 10800}
        """)
    with pytest.raises(routing.ConfigError) as error:
        routing.parse_config(text, "routes.yaml", {})
    assert "routes.yaml:6: sources.stripe.verify.tolerance" in str(error.value)
    assert "longer than the source's retention" in str(error.value)
