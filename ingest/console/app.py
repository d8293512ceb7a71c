"""The console's aiohttp application and the socket it listens on (never the webhook
port: `waitpoint console`, or `waitpoint up --console-port`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp_jinja2
import asyncpg
import jinja2
import structlog
from aiohttp import web

import routing
from waitpoint import Waitpoint
from waitpoint.inspect import WAITING_STATES
from waitpoint.sql import pool_options

from ..receiver_sql import InboxQuery
from . import deliveries, jobs, overview, sources, waiting, workflows
from .access import ACCESS, ConsoleAccess, guard
from .console_sql import ConsoleQuery
from .present import ago, moment, pretty_json, span
from .state import CONSOLE, Console, error_pages

log = structlog.get_logger("ingest.console")

HERE = Path(__file__).parent
STATEMENT_TIMEOUT_MS = 5000
"""A console query that takes longer is cancelled: a page must never load the database."""
POOL_SIZE = 3


async def console_pool(waitpoint: Waitpoint) -> asyncpg.Pool:
    """A few connections of the console's own. Custom plans: a list's optional filters
    (`$1 IS NULL OR source = $1`) must be planned with their values to use an index."""
    if waitpoint.settings.pooler:  # a pooler refuses startup settings; no named statements
        options: dict[str, object] = {"statement_cache_size": 0}
    else:
        options = {"server_settings": {
            "application_name": "waitpoint:console",
            "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            "plan_cache_mode": "force_custom_plan"}}
    return await asyncpg.create_pool(waitpoint.database_url, min_size=1, max_size=POOL_SIZE,
                                     **pool_options(), **options)


def create_console_app(config: routing.RoutingConfig, waitpoint: Waitpoint,
                       access: ConsoleAccess) -> web.Application:
    """The console for `config`'s sources over `waitpoint` (started)."""
    app = web.Application(middlewares=[guard, error_pages])
    app[ACCESS] = access
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("ingest.console", "templates"),
        autoescape=jinja2.select_autoescape(["html"]))
    env.filters.update(ago=ago, span=span, moment=moment, pretty_json=pretty_json,
                       fromjson=lambda text: json.loads(text) if text else None)
    env.globals["now_utc"] = lambda: datetime.now(UTC)
    env.globals["waiting_states"] = WAITING_STATES

    async def pool_lifecycle(app: web.Application) -> AsyncIterator[None]:
        pool = await console_pool(waitpoint)
        app[CONSOLE] = Console(config, waitpoint, pool, ConsoleQuery(waitpoint.schema),
                               InboxQuery(waitpoint.schema))
        yield
        await pool.close()

    app.cleanup_ctx.append(pool_lifecycle)
    for module in (overview, deliveries, jobs, waiting, workflows, sources):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", HERE / "static", name="static")
    return app


async def serve_console(config: routing.RoutingConfig, waitpoint: Waitpoint,
                        access: ConsoleAccess, host: str, port: int,
                        stop: asyncio.Event) -> None:
    """Serve the console until `stop` is set."""
    runner = web.AppRunner(create_console_app(config, waitpoint, access), access_log=None,
                           shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("console.listening", url=f"http://{host}:{port}",
             credentials="required" if access.needs_credentials else "none (loopback only)",
             read_only=access.read_only)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
