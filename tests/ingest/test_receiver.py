"""The receiver end to end: real aiohttp app, real PostgreSQL, signed requests in, jobs
resumed. Synchronised on job state with a timeout, never on sleeps."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time

import pytest
from pydantic import TypeAdapter

import routing
from ingest.app import create_app
from ingest.callbacks import CallbackSigner, configure_callbacks
from ingest.verify import sign
from routing.schemes import VerifySpec
from waitpoint import Job, Waitpoint

from ..conftest import wait_for_state
from ..proxy import PostgresProxy
from ..waitpoint.workers import seen
from .workers import WaitsForPayment, WaitsOnItsCallbackUrl

STRIPE_SECRET = "whsec_test_" + "s" * 24
CONFIG = textwrap.dedent("""\
    version: 1
    sources:
      stripe:
        path: /webhooks/stripe
        verify: {scheme: stripe, secrets: ["${STRIPE_SECRET}"]}
        routes:
          - name: approved
            when: body.type == 'payment_intent.succeeded'
            signal:
              job: body.data.object.metadata.job_id
              payload: {decision: "'approved'", amount: body.data.object.amount}
          - name: by-order
            when: body.type == 'charge.refunded'
            signal: {key: "'order:' + body.data.object.metadata.order_id"}
          - name: raw
            when: body.type == 'raw.blob'
            signal: {job: body.job}
      partner:
        path: /callbacks/partner/{job_id}
        verify: {scheme: hmac, secrets: ["partner-secret-0123456789abcdef"], header: x-signature}
        routes:
          - signal: {job: params.job_id}
    """)
STRIPE = TypeAdapter(VerifySpec).validate_python({"scheme": "stripe", "secrets": [STRIPE_SECRET]})


def stripe_event(event_type: str, obj: dict, event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "type": event_type, "data": {"object": obj}}).encode()


def stripe_headers(body: bytes, **kwargs) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(STRIPE, body, **kwargs)}


@pytest.fixture
async def receiver(start_waitpoint, aiohttp_client):
    """Start a worker node and a receiver app on the test's schema."""

    async def make(*, waitpoint: Waitpoint | None = None, **options):
        wp = waitpoint or await start_waitpoint(queues={"hooks": 5})
        config = routing.parse_config(CONFIG, "test.yaml", {"STRIPE_SECRET": STRIPE_SECRET})
        client = await aiohttp_client(create_app(config, wp, **options))
        return client, wp

    return make


async def test_signed_post_resumes_a_job_waiting_live(receiver):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({})
    await wait_for_state(wp, job.id, "executing")
    body = stripe_event("payment_intent.succeeded",
                        {"amount": 4200, "metadata": {"job_id": str(job.id)}})
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 200
    answer = await response.json()
    assert answer["outcome"] == "routed" and answer["signals"] == 1 and not answer["duplicate"]
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"decision": "approved", "amount": 4200}


async def test_signed_post_wakes_a_snoozed_job(receiver):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    body = stripe_event("payment_intent.succeeded", {"amount": 1, "metadata": {"job_id": job.id}})
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 200
    assert (await wait_for_state(wp, job.id, "completed")).recorded["amount"] == 1


async def test_keyed_waiter_and_the_stored_event(receiver, db):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({"key": "order:77", "wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    body = stripe_event("charge.refunded", {"metadata": {"order_id": "77"}}, "evt_refund")
    headers = stripe_headers(body)
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    answer = await response.json()
    assert answer["signals"] == 1
    await wait_for_state(wp, job.id, "completed")
    event = await db.fetchrow(f"SELECT * FROM {wp.schema}.events WHERE id = $1",
                              answer["event_id"])
    assert event["source"] == "stripe" and event["delivery_id"] == "evt_refund"
    assert event["outcome"] == "routed" and bytes(event["body"]) == body
    stored_headers = json.loads(event["headers"])
    assert stored_headers["stripe-signature"] == "[redacted]"
    assert json.loads(event["signals"])[0]["reached"] == [job.id]


async def test_path_params_route_to_a_job(receiver):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({})
    await wait_for_state(wp, job.id, "executing")
    body = b'{"status": "ok"}'
    options = TypeAdapter(VerifySpec).validate_python(
        {"scheme": "hmac", "secrets": ["partner-secret-0123456789abcdef"], "header": "x-signature"})
    response = await client.post(f"/callbacks/partner/{job.id}", data=body,
                                 headers={"content-type": "application/json",
                                          **sign(options, body)})
    assert response.status == 200
    assert (await wait_for_state(wp, job.id, "completed")).recorded == {"status": "ok"}


async def test_concurrent_duplicates_make_one_event_and_one_signal(receiver, db):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    body = stripe_event("payment_intent.succeeded", {"amount": 5, "metadata": {"job_id": job.id}},
                        "evt_dup")
    responses = await asyncio.gather(*(
        client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
        for _ in range(10)))
    answers = [await r.json() for r in responses]
    assert all(r.status == 200 for r in responses)
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 9
    assert {a["event_id"] for a in answers} == {answers[0]["event_id"]}
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 1
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.signals") == 1
    await wait_for_state(wp, job.id, "completed")


async def test_bad_signature_is_401_and_nothing_is_stored(receiver, db):
    client, wp = await receiver()
    body = stripe_event("payment_intent.succeeded", {"metadata": {"job_id": "1"}})
    headers = stripe_headers(body)
    tampered = body.replace(b"evt_1", b"evt_2")
    response = await client.post("/webhooks/stripe", data=tampered, headers=headers)
    assert response.status == 401 and (await response.json())["error"] == "bad_signature"
    stale = stripe_headers(body, timestamp=int(time.time()) - 3600)
    response = await client.post("/webhooks/stripe", data=body, headers=stale)
    assert (await response.json())["error"] == "stale_timestamp"
    response = await client.post("/webhooks/stripe", data=body)
    assert (await response.json())["error"] == "missing_signature"
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 0


async def test_malformed_body_is_400(receiver):
    client, _ = await receiver()
    body = b"{not json"
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 400 and (await response.json())["error"] == "malformed_body"


async def test_too_large_is_413(receiver):
    client, _ = await receiver(body_limit=1000)
    body = stripe_event("payment_intent.succeeded", {"pad": "x" * 2000})
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 413 and (await response.json())["error"] == "too_large"


async def test_unknown_path_is_404_and_wrong_method_is_405(receiver):
    client, _ = await receiver()
    assert (await client.post("/webhooks/nope", data=b"{}")).status == 404
    assert (await client.get("/webhooks/stripe")).status == 405


async def test_unencodable_payload_is_422_and_recorded(receiver, db):
    client, wp = await receiver()
    job = await WaitsForPayment.enqueue({}, state="suspended")
    body = json.dumps({"id": "evt_big", "type": "raw.blob", "job": job.id,
                       "blob": "x" * 300_000}).encode()
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 422
    answer = await response.json()
    assert answer["error"] == "payload_error" and "limit" in answer["detail"]
    event = await db.fetchrow(f"SELECT outcome FROM {wp.schema}.events WHERE id = $1",
                              answer["event_id"])
    assert event["outcome"] == "payload_error"
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.signals") == 0


async def test_unrouted_and_no_target_are_accepted_and_recorded(receiver, db):
    client, wp = await receiver()
    body = stripe_event("customer.created", {}, "evt_other")
    answer = await (await client.post("/webhooks/stripe", data=body,
                                      headers=stripe_headers(body))).json()
    assert answer["outcome"] == "unrouted"
    body = stripe_event("payment_intent.succeeded", {"metadata": {}}, "evt_no_job")
    answer = await (await client.post("/webhooks/stripe", data=body,
                                      headers=stripe_headers(body))).json()
    assert answer["outcome"] == "no_target" and answer["signals"] == 0
    outcomes = await db.fetch(f"SELECT outcome FROM {wp.schema}.events ORDER BY id")
    assert [r["outcome"] for r in outcomes] == ["unrouted", "no_target"]


async def test_database_down_gives_503_then_recovers(database_url, schema, start_waitpoint,
                                                     receiver, db):
    proxy = PostgresProxy(database_url)
    await proxy.start()
    through_proxy = await start_waitpoint(database_url=proxy.url, queues={}, peer=False)
    client, _ = await receiver(waitpoint=through_proxy)
    await proxy.cut()
    body = stripe_event("payment_intent.succeeded", {"metadata": {"job_id": "1"}}, "evt_down")
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert (await client.get("/readyz")).status == 503
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.events") == 0
    await proxy.start()  # the database is back
    response = await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status == 200
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.events") == 1


async def test_health_readiness_and_metrics(receiver):
    client, _ = await receiver()
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json()) == {"status": "ready"}
    body = stripe_event("customer.created", {}, "evt_m")
    await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    await client.post("/webhooks/stripe", data=body, headers={"stripe-signature": "t=1,v1=00"})
    text = await (await client.get("/metrics")).text()
    assert 'waitpoint_webhooks_received_total{source="stripe"} 2.0' in text
    assert 'waitpoint_webhooks_rejected_total{reason="stale_timestamp",source="stripe"} 1.0' in text
    assert 'waitpoint_webhooks_unrouted_total{source="stripe"} 1.0' in text
    assert "waitpoint_inbox_batch_size_count 1.0" in text
    assert "waitpoint_webhook_seconds_bucket" in text


async def test_callback_url_signals_the_job_that_minted_it(receiver):
    signer = CallbackSigner("c" * 40, "https://hooks.example.com")
    configure_callbacks(signer)
    try:
        client, wp = await receiver(callbacks=signer)
        job = await WaitsOnItsCallbackUrl.enqueue({"wait_timeout": 0})
        await wait_for_state(wp, job.id, "suspended")
        url = seen[job.id][0]
        assert url.startswith("https://hooks.example.com/callbacks/signal/")
        path = url.removeprefix("https://hooks.example.com")
        response = await client.post(path, json={"signed": True})
        assert (await response.json())["outcome"] == "routed"
        assert (await wait_for_state(wp, job.id, "completed")).recorded == {"signed": True}
        # The URL is used up: a second POST is a duplicate that signals nothing.
        again = await client.post(path, json={"signed": "again"})
        assert again.status == 200 and (await again.json())["outcome"] == "duplicate"
        # A URL for a job that has finished is a no-op that says so.
        late = signer.mint(job.id).removeprefix("https://hooks.example.com")
        answer = await (await client.post(late, json={})).json()
        assert answer["outcome"] == "job_finished"
        assert (await client.post(path[:-2] + "xx", json={})).status == 401
        expired = signer.mint(job.id, wait_for=-10).removeprefix("https://hooks.example.com")
        assert (await (await client.post(expired, json={})).json())["error"] == "expired"
    finally:
        configure_callbacks(None)


async def test_webhook_log_line_has_no_secrets(receiver):
    import structlog

    client, _ = await receiver()
    body = stripe_event("customer.created", {}, "evt_log")
    with structlog.testing.capture_logs() as logs:
        await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    (line,) = [entry for entry in logs if entry["event"] == "webhook"]
    assert line["source"] == "stripe" and line["delivery_id"] == "evt_log"
    assert line["outcome"] == "unrouted" and line["status"] == 200 and "duration_ms" in line
    assert STRIPE_SECRET not in repr(logs)


async def test_same_body_to_two_paths_is_two_callbacks(receiver):
    client, wp = await receiver()
    jobs = await wp.enqueue_many([WaitsForPayment.new({"wait_timeout": 0}) for _ in range(2)])
    options = TypeAdapter(VerifySpec).validate_python(
        {"scheme": "hmac", "secrets": ["partner-secret-0123456789abcdef"], "header": "x-signature"})
    body = b'{"decision": "approved"}'
    for job in jobs:
        await wait_for_state(wp, job.id, "suspended")
        response = await client.post(f"/callbacks/partner/{job.id}", data=body,
                                     headers={"content-type": "application/json",
                                              **sign(options, body)})
        assert (await response.json())["outcome"] == "routed"
    for job in jobs:
        await wait_for_state(wp, job.id, "completed")


async def test_bodies_are_logged_only_when_switched_on(receiver, monkeypatch):
    import structlog

    from ingest import handlers as app_module

    client, _ = await receiver()
    body = stripe_event("customer.created", {"secret_field": "do-not-log"}, "evt_body")
    with structlog.testing.capture_logs() as logs:
        await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert "do-not-log" not in repr(logs)
    monkeypatch.setattr(app_module, "LOG_BODIES", True)
    body = stripe_event("customer.created", {"secret_field": "now-logged"}, "evt_body_2")
    with structlog.testing.capture_logs() as logs:
        await client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    (entry,) = [e for e in logs if e["event"] == "webhook.body"]
    assert "now-logged" in entry["body"]


async def test_signed_post_signals_a_workflow_step(start_waitpoint, aiohttp_client):
    from waitpoint import Workflow

    from ..waitpoint.workers import Voter

    wp = await start_waitpoint(queues={"approvals": 5, "default": 5})
    config = routing.parse_config(textwrap.dedent("""\
        version: 1
        sources:
          stripe:
            path: /webhooks/stripe
            verify: {scheme: stripe, secrets: ["${STRIPE_SECRET}"]}
            routes:
              - when: body.type == 'checkout.session.completed'
                signal:
                  workflow: body.data.object.metadata.workflow_id
                  step: "'payment'"
                  payload: {paid: body.data.object.amount_total}
        """), "wf.yaml", {"STRIPE_SECRET": STRIPE_SECRET})
    client = await aiohttp_client(create_app(config, wp))
    workflow = Workflow().add("payment", Voter.new({}))
    (payment,) = await wp.enqueue_many(workflow)
    await wait_for_state(wp, payment.id, "suspended")
    body = stripe_event("checkout.session.completed",
                        {"amount_total": 900, "metadata": {"workflow_id": str(workflow.id)}})
    answer = await (await client.post("/webhooks/stripe", data=body,
                                      headers=stripe_headers(body))).json()
    assert answer["outcome"] == "routed" and answer["signals"] == 1
    assert (await wait_for_state(wp, payment.id, "completed")).recorded == {"paid": 900}


async def test_named_job_signals_and_workflow_broadcasts_from_routes(start_waitpoint,
                                                                     aiohttp_client, db):
    """signal.name routes a callback to a named wait; a workflow target with a name and no
    step sets the workflow's named signal (a broadcast), and replay does the same."""
    from waitpoint import Workflow

    from ..waitpoint.workers import NamedInTurn, Reviewer

    wp = await start_waitpoint(queues={"approvals": 5})
    config = routing.parse_config(textwrap.dedent("""\
        version: 1
        sources:
          stripe:
            path: /webhooks/stripe
            verify: {scheme: stripe, secrets: ["${STRIPE_SECRET}"]}
            routes:
              - when: body.type == 'payment_intent.succeeded'
                signal:
                  job: body.data.object.metadata.job_id
                  name: "'payment'"
                  payload: {amount: body.data.object.amount}
              - when: body.type == 'review.approved'
                signal:
                  workflow: body.data.object.metadata.workflow_id
                  name: "'approved'"
                  payload: {by: body.data.object.reviewer}
        """), "named.yaml", {"STRIPE_SECRET": STRIPE_SECRET})
    client = await aiohttp_client(create_app(config, wp))
    job = await NamedInTurn.enqueue({"names": ["payment"]})
    await wait_for_state(wp, job.id, "suspended")
    body = stripe_event("payment_intent.succeeded",
                        {"amount": 4200, "metadata": {"job_id": str(job.id)}})
    answer = await (await client.post("/webhooks/stripe", data=body,
                                      headers=stripe_headers(body))).json()
    assert answer["outcome"] == "routed" and answer["signals"] == 1
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == [["payment", {"amount": 4200}]]

    workflow = Workflow().add("review", Reviewer.new({}))
    (step,) = await wp.enqueue_many(workflow)
    await wait_for_state(wp, step.id, "suspended")
    body = stripe_event("review.approved", {"reviewer": "alice",
                                            "metadata": {"workflow_id": str(workflow.id)}},
                        "evt_review")
    answer = await (await client.post("/webhooks/stripe", data=body,
                                      headers=stripe_headers(body))).json()
    assert answer["outcome"] == "routed" and answer["signals"] == 1  # one workflow reached
    assert (await wait_for_state(wp, step.id, "completed")).recorded == {"by": "alice"}
    stored = await db.fetchval(f"SELECT signals FROM {wp.schema}.events "
                               "WHERE id = $1", answer["event_id"])
    assert '"name": "approved"' in stored and f'"reached": [{workflow.id}]' in stored


async def test_slack_url_verification_is_answered_and_stores_nothing(start_waitpoint,
                                                                    aiohttp_client, db):
    wp = await start_waitpoint(queues={})
    secret = "slack-signing-secret-0123456789ab"
    config = routing.parse_config(textwrap.dedent(f"""\
        version: 1
        sources:
          slack:
            path: /webhooks/slack/events
            verify: {{scheme: slack, secrets: ["{secret}"]}}
            routes:
              - signal: {{key: "'slack'"}}
        """), "slack.yaml", {})
    client = await aiohttp_client(create_app(config, wp))
    options = config.sources["slack"].verify
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge,
                       "type": "url_verification"}).encode()
    response = await client.post("/webhooks/slack/events", data=body, headers={
        "content-type": "application/json", **sign(options, body)})
    assert response.status == 200
    assert await response.json() == {"challenge": challenge}
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 0
    # The handshake is verified like any other request.
    forged = await client.post("/webhooks/slack/events", data=body, headers={
        "content-type": "application/json", "x-slack-signature": "v0=00",
        "x-slack-request-timestamp": str(int(time.time()))})
    assert forged.status == 401


async def test_callback_url_over_the_body_limit_is_413(receiver):
    signer = CallbackSigner("c" * 40, "https://hooks.example.com")
    client, wp = await receiver(callbacks=signer, body_limit=1024)
    path = signer.mint(1).removeprefix("https://hooks.example.com")
    response = await client.post(path, json={"pad": "x" * 2000})
    assert response.status == 413 and (await response.json())["error"] == "too_large"
    assert await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 0


async def test_callback_urls_are_measured_and_logged_like_sources(receiver):
    import structlog

    signer = CallbackSigner("c" * 40, "https://hooks.example.com")
    client, _ = await receiver(callbacks=signer)
    forged = signer.mint(1).removeprefix("https://hooks.example.com")[:-2] + "xx"
    with structlog.testing.capture_logs() as logs:
        assert (await client.post(forged, json={})).status == 401
    (line,) = [entry for entry in logs if entry["event"] == "webhook"]
    assert line["source"] == "callback" and line["reason"] == "bad_signature"
    assert line["status"] == 401 and forged.rsplit("/", 1)[1] not in repr(logs)
    text = await (await client.get("/metrics")).text()
    assert ('waitpoint_webhooks_rejected_total{reason="bad_signature",source="callback"} 1.0'
            in text)


async def test_a_rejection_is_counted_by_its_reason(receiver):
    client, _ = await receiver()
    body = stripe_event("customer.created", {}, "evt_forged")
    headers = stripe_headers(body)
    headers["Stripe-Signature"] = headers["Stripe-Signature"][:-4] + "0000"
    assert (await client.post("/webhooks/stripe", data=body, headers=headers)).status == 401
    assert (await client.post("/webhooks/stripe", data=b"{", headers=stripe_headers(b"{"))
            ).status == 400
    text = await (await client.get("/metrics")).text()
    assert 'waitpoint_webhooks_rejected_total{reason="bad_signature",source="stripe"} 1.0' in text
    assert 'waitpoint_webhooks_rejected_total{reason="malformed_body",source="stripe"} 1.0' in text
    assert 'waitpoint_webhook_seconds_count{source="stripe",status="401"} 1.0' in text


async def test_a_callback_url_signals_once(receiver, db):
    signer = CallbackSigner("c" * 40, "https://hooks.example.com")
    client, wp = await receiver(callbacks=signer)
    job = await wp.enqueue(Job(worker="tests.NeverRuns", state="suspended"))
    path = signer.mint(job.id).removeprefix("https://hooks.example.com")
    first = await client.post(path, json={"n": 1}, headers={"Authorization": "Bearer tok"})
    assert (await first.json())["outcome"] == "routed"
    again = await client.post(path, json={"n": 2})  # another body: still the same token
    assert again.status == 200 and (await again.json())["outcome"] == "duplicate"
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.signals") == 1
    stored = await db.fetchval(f"SELECT headers ->> 'authorization' FROM {wp.schema}.events")
    assert stored == "[redacted]"


async def test_a_multi_use_callback_url_signals_once_per_body(receiver, db):
    signer = CallbackSigner("c" * 40, "https://hooks.example.com")
    client, wp = await receiver(callbacks=signer)
    job = await wp.enqueue(Job(worker="tests.NeverRuns", state="suspended"))
    path = signer.mint(job.id, multi_use=True).removeprefix("https://hooks.example.com")
    for body, outcome in (({"n": 1}, "routed"), ({"n": 2}, "routed"), ({"n": 1}, "duplicate")):
        answer = await (await client.post(path, json=body)).json()
        assert answer["outcome"] == outcome, answer
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.events") == 2
