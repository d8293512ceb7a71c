"""The aiohttp receiver: one route per source, callback URLs, health and metrics.

A 2xx means the event and its signals are committed. Bad signature: 401; malformed body:
400; too large: 413; a payload that cannot be stored: 422 (recorded); database down: 503
with Retry-After, never a 2xx. The handlers are in ingest.handlers, the middleware that
measures, logs and records every request in ingest.observe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import routing
from waitpoint import Waitpoint
from waitpoint.schema import pending_migrations
from waitpoint.sql import within

from . import handshakes
from . import verify as verification
from .callbacks import CallbackSigner
from .context import RECEIVER, Receiver, ReceiverLimits, error_response
from .delivery_counts import DeliveryCounts
from .handlers import SourceRuntime, callback_handler, source_handler, subscription_handler
from .inbox import Inbox
from .metrics import Metrics, SourceMetrics
from .observe import observe
from .receiver_sql import RECEIVER_TRACKS, InboxQuery
from .request_recorder import Recorder
from .retention import EventRetention
from .source_pauses import SourcePauses

log = structlog.get_logger("ingest")

READY_TIMEOUT = 1.5
"""Seconds /readyz waits for the database before answering 503."""


def create_app(config: routing.RoutingConfig, waitpoint: Waitpoint, *,
               body_limit: int = routing.DEFAULT_BODY_LIMIT,
               callbacks: CallbackSigner | None = None,
               record_dir: Path | None = None,
               limits: ReceiverLimits | None = None) -> web.Application:
    """The receiver for every source of `config`, writing through `waitpoint` (started)."""
    limits = limits or ReceiverLimits()
    app = web.Application(client_max_size=body_limit + 1, middlewares=[observe])
    metrics = Metrics()
    inbox = Inbox(waitpoint.pool, InboxQuery(waitpoint.schema),
                  on_batch=metrics.batch_size.observe, max_pending=limits.max_pending,
                  commit_timeout=limits.commit_timeout)
    recorder = Recorder(record_dir) if record_dir is not None else None
    query = InboxQuery(waitpoint.schema)
    counts = DeliveryCounts(waitpoint.pool, query)
    pauses = SourcePauses(waitpoint.pool, query,
                          waitpoint.settings.listen_url or waitpoint.database_url)
    app[RECEIVER] = Receiver(config, waitpoint, inbox, metrics, counts, pauses, body_limit,
                             callbacks, recorder, limits)

    retention = EventRetention(waitpoint.pool, query, config)

    async def inbox_lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await pauses.start()
        inbox.start()
        retention.start()
        counts.start()
        yield
        await retention.stop()
        await inbox.stop()
        await counts.stop()
        await pauses.stop()

    app.cleanup_ctx.append(inbox_lifecycle)
    keys = verification.KeyCache()  # provider keys (JWKS, Plaid), shared by this app's sources
    for source in config.sources.values():
        if source.scheme == "none":
            log.warning("source.insecure", source=source.name,
                        hint="requests to this source are not verified (insecure: true)")
        verifier = verification.build_verifier(source.verifier, keys)
        runtime = SourceRuntime(source, SourceMetrics(metrics, source.name), verifier,
                                verification.sensitive_headers(verifier))
        app.router.add_post(source.path, source_handler(runtime), name=f"source-{source.name}")
        if source.scheme in handshakes.GET_HANDSHAKES:
            app.router.add_get(source.path, subscription_handler(runtime))
    if callbacks is not None:
        app.router.add_post(callbacks.path + "/{token}",
                            callback_handler(SourceMetrics(metrics, "callback")))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    try:
        # A frozen database answers nothing: readiness is a quick "no" rather than a hang.
        pending = await within(receiver.waitpoint.pool, READY_TIMEOUT,
                               lambda conn: pending_migrations(conn, receiver.waitpoint.schema,
                                                               RECEIVER_TRACKS))
    except Exception as error:  # any failure to reach the database means not ready
        return error_response(503, "database_unavailable", type(error).__name__)
    if pending:
        return error_response(503, "migrations_pending", ", ".join(m.label for m in pending))
    return web.json_response({"status": "ready"})


async def metrics_handler(request: web.Request) -> web.Response:
    registry = request.app[RECEIVER].metrics.registry
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
