"""The receiver's request handlers, in the order data flows: limit, read, verify, route,
persist, respond. A refusal is a raised Rejection; the middleware (ingest.observe) turns
it into the response and does the metrics, the log line and the recording."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from aiohttp import web

import routing
from waitpoint import codec

from . import handshakes
from . import verify as verification
from .context import (
    RECEIVER,
    Receiver,
    Rejection,
    database_unavailable,
    read_body,
    start_handling,
)
from .events import Delivery, EventRecord, Stored, describe_target
from .inbox import DatabaseUnavailable, InboxFull, UnstorableEvent
from .metrics import SourceMetrics
from .prepared import prepare
from .redaction import redact_body, redact_headers
from .responses import json_answer

log = structlog.get_logger("ingest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG_BODIES = os.environ.get("WAITPOINT_LOG_BODIES") == "1"
"""Bodies are never logged unless this is switched on (WAITPOINT_LOG_BODIES=1), to debug
a provider's payloads on a development machine."""
PAUSED_RETRY_AFTER = 60
"""Seconds a provider is asked to wait before sending to a paused source again."""


@dataclass(frozen=True)
class SourceRuntime:
    """What a source's handler computes once rather than per request."""

    source: routing.CompiledSource
    metrics: SourceMetrics
    verifier: verification.Verifier[Any]
    sensitive_headers: frozenset[str]


def source_handler(runtime: SourceRuntime) -> Handler:
    source, metrics = runtime.source, runtime.metrics

    async def handle(request: web.Request) -> web.StreamResponse:
        receiver = request.app[RECEIVER]
        handling = start_handling(request, source.name, metrics)
        metrics.received.inc()
        if receiver.pauses.is_paused(source.name):
            # Before the body is read: a paused source stores nothing, and the provider
            # sends it again later.
            raise Rejection(503, "paused", "this source is paused by an operator",
                            retry_after=PAUSED_RETRY_AFTER)
        unsigned = handshakes.before_verification(source, request.query)
        if unsigned is not None:
            handling.outcome = "handshake"
            return unsigned
        body = await read_body(request, receiver.body_limit, receiver.limits.body_timeout)
        headers = _headers(request, runtime.sensitive_headers)
        query = dict(request.query)
        stored_body: bytes | None = None if source.redact_body_fields else body
        if receiver.recorder is not None:
            # A rejected request is recorded too: redact before anything can refuse it.
            if stored_body is None:
                stored_body = redact_body(body, headers.get("content-type"),
                                          source.redact_body_fields)
            handling.recorded_body = stored_body
        signed = await _verify(request, runtime, body, headers, query)
        replay_key = _replay_key(runtime, signed, request.path)
        if stored_body is None:  # only verified bodies are parsed to be stored
            stored_body = redact_body(body, headers.get("content-type"),
                                      source.redact_body_fields)
        metrics.verified.inc()
        answer = handshakes.after_verification(source, body)
        if answer is not None:
            handling.outcome = "handshake"
            return answer
        if LOG_BODIES:
            log.info("webhook.body", source=source.name, body=body.decode("utf-8", "replace"))
        callback = routing.Callback(body=body, headers=headers, query=query,
                                    params=dict(request.match_info))
        try:
            result = routing.evaluate(source, callback)
        except routing.BodyError as error:
            raise Rejection(400, "malformed_body", str(error)) from None
        handling.details["delivery_id"] = result.delivery_id
        prepared = prepare(result)
        record = EventRecord(
            source=source.name, delivery_id=result.delivery_id, body=stored_body,
            outcome=prepared.outcome, method=request.method, path=request.path, query=query,
            headers=redact_headers(headers, runtime.sensitive_headers),
            errors=prepared.errors, deliveries=prepared.deliveries,
            replay_key=replay_key,
            replay_seconds=source.replay_guard.seconds if source.replay_guard else None,
        )
        stored = await _submit(receiver, record)
        outcome = "duplicate" if stored.duplicate else record.outcome
        handling.outcome = outcome
        handling.details["targets"] = [describe_target(d.target) for d in record.deliveries]
        if stored.duplicate:
            metrics.duplicates.inc()
        elif outcome == "unrouted":
            metrics.unrouted.inc()
        metrics.signals.inc(stored.reached)
        answer_body: dict[str, Any] = {"event_id": stored.event_id, "outcome": outcome,
                                       "signals": stored.reached,
                                       "duplicate": stored.duplicate}
        status = 200 if stored.duplicate else prepared.status
        if status == 422:
            handling.reason = "payload_error"
            answer_body.update(error="payload_error", detail=record.errors[-1]["message"])
        else:
            answer_body = handshakes.provider_answer(source, body, answer_body)
        headers = {"Waitpoint-Outcome": outcome}
        if stored.event_id is not None:
            headers["Waitpoint-Event-Id"] = str(stored.event_id)
        return json_answer(answer_body, status=status, headers=headers)

    return handle


def _headers(request: web.Request, sensitive: frozenset[str]) -> dict[str, str]:
    """Lower-cased headers; a signature or credential header sent twice is refused (which
    copy would be checked, and which one would a proxy have added?)."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        if name in headers and name in sensitive:
            raise Rejection(401, "malformed_signature", log_detail=f"two {name} headers")
        headers[name] = value
    return headers


async def _verify(request: web.Request, runtime: SourceRuntime, body: bytes,
                  headers: dict[str, str], query: dict[str, str]
                  ) -> verification.SignedRequest:
    signed = verification.SignedRequest(body=body, headers=headers,
                                        url=runtime.verifier.signed_url(
                                            lambda: request.path_qs, lambda: str(request.url)),
                                        method=request.method, query=query)
    try:
        await runtime.verifier.verify(signed, time.time())
    except verification.VerificationError as error:
        if error.reason == "keys_unavailable":
            # We could not fetch the provider's keys: our problem, not the sender's. 503
            # asks the provider to retry, so the callback is not lost.
            raise Rejection(503, error.reason, error.detail, retry_after=30) from None
        raise Rejection(401, error.reason, log_detail=error.detail) from None
    return signed


def _replay_key(runtime: SourceRuntime, signed: verification.SignedRequest,
                path: str) -> bytes | None:
    """What a replay of this verified request would repeat (routing.presets.replay_guard):
    its path and body, or the token its signature covers."""
    guard = runtime.source.replay_guard
    if guard is None:
        return None
    if guard.kind == "token":
        token = runtime.verifier.replay_token(signed)
        return None if token is None else hashlib.sha256(b"token\0" + token).digest()
    return hashlib.sha256(b"request\0" + path.encode() + b"\0" + signed.body).digest()


async def _submit(receiver: Receiver, record: EventRecord) -> Stored:
    """Persist; the answer waits for the commit."""
    try:
        return await receiver.inbox.submit(record)
    except DatabaseUnavailable:
        raise database_unavailable() from None
    except InboxFull:
        raise Rejection(503, "overloaded", "too many events waiting to be committed",
                        retry_after=1) from None
    except UnstorableEvent as error:
        raise Rejection(400, "unstorable_event", str(error)) from None


def subscription_handler(runtime: SourceRuntime) -> Handler:
    """GET handshakes (Meta, Dropbox): answered here, never stored."""

    async def handle(request: web.Request) -> web.StreamResponse:
        handling = start_handling(request, runtime.source.name, runtime.metrics,
                                  recorded=False)
        response, outcome = handshakes.subscription(runtime.source, request.query)
        if response.status >= 400:
            handling.reason = outcome
        else:
            handling.outcome = outcome
        return response

    return handle


def callback_handler(metrics: SourceMetrics) -> Handler:
    """POST to a per-job callback URL: the token in the path is the signature and the
    target; the body (JSON, form or text) is the payload."""

    async def handle(request: web.Request) -> web.StreamResponse:
        receiver = request.app[RECEIVER]
        signer = receiver.callbacks
        assert signer is not None
        handling = start_handling(request, "callback", metrics, recorded=False)
        metrics.received.inc()
        body = await read_body(request, receiver.body_limit, receiver.limits.body_timeout)
        try:
            claims = signer.read(request.match_info["token"])
        except jwt.ExpiredSignatureError:
            raise Rejection(401, "expired") from None
        except jwt.PyJWTError:
            raise Rejection(401, "bad_signature") from None
        metrics.verified.inc()
        try:
            payload = routing.parse_body(body, request.headers.get("content-type"))
            encoded = codec.encode(payload)
        except routing.BodyError as error:
            raise Rejection(400, "malformed_body", str(error)) from None
        except (TypeError, ValueError) as error:
            raise Rejection(422, "payload_error", str(error)) from None
        target: routing.JobTarget | routing.KeyTarget = (
            routing.KeyTarget(claims["key"]) if "key" in claims
            else routing.JobTarget((claims["job"],)))
        # Single-use unless minted multi-use: then each distinct body is one delivery.
        delivery_id = (f"{claims['jti']}:{hashlib.sha256(body).hexdigest()}"
                       if claims.get("multi") else str(claims["jti"]))
        record = EventRecord(
            source="callback", delivery_id=delivery_id,
            body=body, outcome="routed", method=request.method, path=signer.path,
            headers=redact_headers({k.lower(): v for k, v in request.headers.items()},
                                   verification.SIGNATURE_HEADERS),
            deliveries=[Delivery("callback-url", target, encoded)],
        )
        stored = await _submit(receiver, record)
        if stored.duplicate:
            outcome = "duplicate"
        else:
            outcome = "routed" if stored.reached or "key" in claims else "job_finished"
        handling.outcome = outcome
        metrics.signals.inc(stored.reached)
        return json_answer({"event_id": stored.event_id, "outcome": outcome,
                                  "signals": stored.reached, "duplicate": stored.duplicate})

    return handle
