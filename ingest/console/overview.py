"""Overview: deliveries and refusals per source, jobs per queue and state, the waits, and
a chart of the last hour; the live part is re-fetched every few seconds (htmx)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from waitpoint.inspect import UNFINISHED_STATES

from .present import minute_chart
from .state import console_of, page

routes = web.RouteTableDef()

OUTCOMES = ("routed", "unrouted", "no_target", "duplicate", "payload_error")
CHART_MINUTES = 60


@routes.get("/", name="overview")
async def overview(request: web.Request) -> web.Response:
    return page(request, "overview.html", await _figures(request))


@routes.get("/overview/live")
async def overview_live(request: web.Request) -> web.Response:
    return page(request, "_overview_live.html", await _figures(request))


async def _figures(request: web.Request) -> dict[str, Any]:
    console = console_of(request)
    async with console.pool.acquire() as conn:
        totals = await console.query.delivery_totals(conn)
        per_minute = await console.query.deliveries_per_minute(conn, minutes=CHART_MINUTES)
        depths = await console.inspect.depth(conn)
    now = datetime.now(UTC)
    sources: dict[str, dict[str, Any]] = {
        name: {"outcomes": defaultdict(lambda: [0, 0]), "rejected": defaultdict(lambda: [0, 0])}
        for name in console.sources}
    for row in totals:
        entry = sources.setdefault(row["source"], {"outcomes": defaultdict(lambda: [0, 0]),
                                                   "rejected": defaultdict(lambda: [0, 0])})
        group = entry["rejected"] if row["kind"] == "rejected" else entry["outcomes"]
        group[row["name"]] = [int(row["last_hour"]), int(row["last_day"])]
    by_queue: dict[str, dict[str, int]] = defaultdict(dict)
    for queue, state, jobs in depths.queues:
        by_queue[queue][state.value] = int(jobs)
    return {
        "now": now,
        "outcomes": OUTCOMES,
        "sources": sources,
        "states": [state.value for state in UNFINISHED_STATES],
        "queues": dict(sorted(by_queue.items())),
        "waits": depths.waits,
        "sampled_at": depths.sampled_at,
        "chart": minute_chart(per_minute, minutes=CHART_MINUTES, now=now),
    }
