"""The aiohttp receiver: limit, read, verify, route, persist, respond.

A 2xx means the event and its signals are committed. Bad signature: 401; malformed body:
400; too large: 413; a payload that cannot be stored: 422 (recorded); database down: 503
with Retry-After, never a 2xx.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import routing
from waitpoint import Waitpoint
from waitpoint._migrate import pending_migrations

from . import handshakes
from . import verify as verification
from .callbacks import CallbackSigner, handle_callback
from .deliveries import describe_target, prepare
from .inbox import DatabaseUnavailable, EventRecord, Inbox
from .metrics import Metrics, SourceMetrics
from .recorder import Recorder

log = structlog.get_logger("ingest")

DEFAULT_BODY_LIMIT = 1024 * 1024
REDACTED = "[redacted]"
URL_SIGNING_SCHEMES = frozenset({"twilio", "custom"})  # `hmac` arrives as custom
LOG_BODIES = os.environ.get("WAITPOINT_LOG_BODIES") == "1"
"""Bodies are never logged unless this is switched on (WAITPOINT_LOG_BODIES=1), to debug
a provider's payloads on a development machine."""


@dataclass
class Receiver:
    """What the handlers share (kept in one AppKey)."""

    config: routing.RoutingConfig
    waitpoint: Waitpoint
    inbox: Inbox
    metrics: Metrics
    body_limit: int
    callbacks: CallbackSigner | None
    recorder: Recorder | None = None


RECEIVER = web.AppKey("receiver", Receiver)


def error_response(status: int, reason: str, detail: str = "",
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": reason, **({"detail": detail} if detail else {})}
    return web.json_response(body, status=status, headers=headers)


def create_app(config: routing.RoutingConfig, waitpoint: Waitpoint, *,
               body_limit: int = DEFAULT_BODY_LIMIT,
               callbacks: CallbackSigner | None = None,
               record_dir: Path | None = None) -> web.Application:
    """The receiver for every source of `config`, writing through `waitpoint` (started)."""
    app = web.Application(client_max_size=body_limit + 1)
    metrics = Metrics()
    inbox = Inbox(waitpoint.pool, waitpoint.queries.ingest_events,
                  on_batch=metrics.batch_size.observe)
    recorder = Recorder(record_dir) if record_dir is not None else None
    app[RECEIVER] = Receiver(config, waitpoint, inbox, metrics, body_limit, callbacks, recorder)

    async def inbox_lifecycle(_app: web.Application):  # type: ignore[no-untyped-def]
        inbox.start()
        yield
        await inbox.stop()

    app.cleanup_ctx.append(inbox_lifecycle)
    for source in config.sources.values():
        if source.scheme == "none":
            log.warning("source.insecure", source=source.name,
                        hint="requests to this source are not verified (insecure: true)")
        runtime = SourceRuntime(source, SourceMetrics(metrics, source.name),
                                verification.sensitive_headers(source.verifier))
        app.router.add_post(source.path, _source_handler(runtime), name=f"source-{source.name}")
        if source.scheme in handshakes.GET_HANDSHAKES:
            app.router.add_get(source.path, _subscription_handler(runtime))
    if callbacks is not None:
        app.router.add_post(callbacks.path + "/{token}", handle_callback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


@dataclass(frozen=True)
class SourceRuntime:
    """What a source's handler computes once rather than per request."""

    source: routing.CompiledSource
    metrics: SourceMetrics
    sensitive_headers: frozenset[str]


def _source_handler(runtime: SourceRuntime):  # type: ignore[no-untyped-def]
    source, metrics = runtime.source, runtime.metrics

    async def handle(request: web.Request) -> web.StreamResponse:
        receiver = request.app[RECEIVER]
        started = time.perf_counter()
        metrics.received.inc()
        response, context = await _receive(request, receiver, runtime)
        status = response.status
        metrics.latency(status).observe(time.perf_counter() - started)
        if "reason" in context:
            metrics.rejected(context["reason"]).inc()
        if receiver.recorder is not None:
            await receiver.recorder.record(request, source.name, status,
                                           context.get("outcome") or context.get("reason"))
        log.info("webhook", source=source.name, status=status,
                 duration_ms=round((time.perf_counter() - started) * 1000, 2), **context)
        return response

    return handle


def _subscription_handler(runtime: SourceRuntime):  # type: ignore[no-untyped-def]
    """GET handshakes (Meta, Dropbox): answered here, never stored."""
    source, metrics = runtime.source, runtime.metrics

    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response, outcome = handshakes.subscription(source, request.query)
        metrics.latency(response.status).observe(time.perf_counter() - started)
        if response.status >= 400:
            metrics.rejected(outcome).inc()
        log.info("webhook.handshake", source=source.name, status=response.status,
                 outcome=outcome)
        return response

    return handle


async def _receive(request: web.Request, receiver: Receiver,
                   runtime: SourceRuntime) -> tuple[web.Response, dict[str, Any]]:
    source, metrics = runtime.source, runtime.metrics
    unsigned = handshakes.before_verification(source, request.query)
    if unsigned is not None:
        return unsigned, {"outcome": "handshake"}
    # limit, read once
    body = await read_body(request, receiver)
    if body is None:
        return _too_large(receiver), {"reason": "too_large"}
    headers = {key.lower(): value for key, value in request.headers.items()}
    signed = verification.SignedRequest(body=body, headers=headers,
                                        url=_public_url(request, source),
                                        method=request.method, query=dict(request.query))
    # verify
    try:
        await verification.verify(signed, source.verifier)
    except verification.VerificationError as error:
        if error.reason == "keys_unavailable":
            # We could not fetch the provider's keys: our problem, not the sender's. 503
            # asks the provider to retry, so the callback is not lost.
            return (error_response(503, error.reason, headers={"Retry-After": "30"}),
                    {"reason": error.reason})
        return error_response(401, error.reason), {"reason": error.reason}
    metrics.verified.inc()
    answer = handshakes.after_verification(source, body)
    if answer is not None:
        return answer, {"outcome": "handshake"}
    if LOG_BODIES:
        log.info("webhook.body", source=source.name, body=body.decode("utf-8", "replace"))
    # route (pure)
    callback = routing.Callback(body=body, headers=headers, query=dict(request.query),
                                params=dict(request.match_info))
    try:
        result = routing.evaluate(source, callback)
    except routing.BodyError as error:
        return error_response(400, "malformed_body", str(error)), {"reason": "malformed_body"}
    record, status = _event_record(request, source, body, headers, result,
                                   runtime.sensitive_headers)
    # persist: the answer waits for the commit
    try:
        stored = await receiver.inbox.submit(record)
    except DatabaseUnavailable:
        return (error_response(503, "database_unavailable", headers={"Retry-After": "5"}),
                {"reason": "database_unavailable", "delivery_id": result.delivery_id})
    reached = sum(len(s.get("reached", [])) for s in stored.signals)
    outcome = "duplicate" if stored.duplicate else record.outcome
    if stored.duplicate:
        metrics.duplicates.inc()
        status = 200
    elif outcome == "unrouted":
        metrics.unrouted.inc()
    metrics.signals.inc(0 if stored.duplicate else reached)
    context = {"delivery_id": result.delivery_id, "outcome": outcome,
               "targets": [describe_target(d) for d in record.deliveries]}
    body_out = {"event_id": stored.event_id, "outcome": outcome, "signals": reached,
                "duplicate": stored.duplicate}
    if status == 422:
        context["reason"] = "payload_error"
        body_out["error"] = "payload_error"
        body_out["detail"] = record.errors[-1]["message"]
    answer = handshakes.provider_answer(source, body, body_out) if status < 300 else body_out
    headers = {"Waitpoint-Event-Id": str(stored.event_id), "Waitpoint-Outcome": outcome}
    return web.json_response(answer, status=status, headers=headers), context


def _event_record(request: web.Request, source: routing.CompiledSource, body: bytes,
                  headers: dict[str, str], result: routing.Evaluation,
                  sensitive: frozenset[str]) -> tuple[EventRecord, int]:
    prepared = prepare(result)
    record = EventRecord(
        source=source.name, delivery_id=result.delivery_id, body=body, outcome=prepared.outcome,
        method=request.method, path=request.path, query=dict(request.query),
        headers={k: (REDACTED if k in sensitive else v) for k, v in headers.items()},
        errors=prepared.errors, deliveries=prepared.deliveries,
    )
    return record, prepared.status


def _public_url(request: web.Request, source: routing.CompiledSource) -> str:
    """The URL the provider called, for the schemes that sign it (twilio, {url} in hmac
    and custom): the configured public URL when the receiver sits behind a proxy."""
    verifier = source.verifier
    if verifier.scheme not in URL_SIGNING_SCHEMES:
        return ""
    if getattr(verifier, "url", None):
        return verifier.url
    base = getattr(verifier, "public_url", None)
    if base:
        return base.rstrip("/") + request.path_qs
    return str(request.url)


async def read_body(request: web.Request, receiver: Receiver) -> bytes | None:
    """The raw body, or None when it is over the limit (checked before reading when the
    length is declared, and while reading when it is not)."""
    if request.content_length is not None and request.content_length > receiver.body_limit:
        return None
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None


def _too_large(receiver: Receiver) -> web.Response:
    return error_response(413, "too_large", f"the body limit is {receiver.body_limit} bytes")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    try:
        async with receiver.waitpoint.pool.acquire(timeout=2) as conn:
            pending = await pending_migrations(conn, receiver.waitpoint.schema)
    except Exception as error:  # any failure to reach the database means not ready
        return error_response(503, "database_unavailable", type(error).__name__)
    if pending:
        return error_response(503, "migrations_pending",
                              ", ".join(f"{m.version:03d}_{m.name}" for m in pending))
    return web.json_response({"status": "ready"})


async def metrics_handler(request: web.Request) -> web.Response:
    registry = request.app[RECEIVER].metrics.registry
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
