"""The receiver's one middleware: a rejection becomes its response, and every request to
a source or a callback URL is measured, logged and recorded once, here."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from .context import RECEIVER, Rejection, handling_of

log = structlog.get_logger("ingest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Never refused for load: an orchestrator must see how the receiver is doing."""


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    receiver = request.app[RECEIVER]
    if request.path in OPERATIONS:
        return await handler(request)
    if receiver.in_flight >= receiver.limits.max_in_flight:
        # Before the body is read: shedding must cost less than serving.
        receiver.metrics.shed.inc()
        return Rejection(503, "overloaded", "too many requests in flight",
                         retry_after=1).response()
    receiver.in_flight += 1
    try:
        return await _observed(request, handler)
    finally:
        receiver.in_flight -= 1


async def _observed(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        response = await handler(request)
    except Rejection as rejection:
        response = rejection.response()
        handling = handling_of(request)
        if handling is not None:
            handling.reason = rejection.reason
            if rejection.log_detail:
                handling.details["detail"] = rejection.log_detail
    handling = handling_of(request)
    if handling is None:  # /healthz, /metrics, unknown paths
        return response
    status = response.status
    elapsed = time.perf_counter() - started
    handling.metrics.latency(status).observe(elapsed)
    if handling.reason is not None:
        handling.metrics.rejected(handling.reason).inc()
    counts = request.app[RECEIVER].counts
    if handling.outcome is not None:  # a payload_error is both: counted as an outcome
        counts.outcome(handling.source, handling.outcome)
    elif handling.reason is not None:
        counts.rejected(handling.source, handling.reason)
    recorder = request.app[RECEIVER].recorder
    if recorder is not None and handling.recorded:
        await recorder.record(request, handling.source, status,
                              handling.outcome or handling.reason, handling.recorded_body)
    context = {"outcome": handling.outcome} if handling.outcome else {}
    if handling.reason is not None:
        context["reason"] = handling.reason
    log.info("webhook", source=handling.source, status=status,
             duration_ms=round(elapsed * 1000, 2), **context, **handling.details)
    return response
