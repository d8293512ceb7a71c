"""Sources: each configured source, its path, scheme and routes, its last delivery and
refusals; pause one (every receiver process answers 503 with Retry-After and stores
nothing) and resume it."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web

from .state import acted, back_to, console_of, operator_of, page

routes = web.RouteTableDef()


@routes.get("/sources", name="sources")
async def sources(request: web.Request) -> web.Response:
    console = console_of(request)
    names = list(console.config.sources)
    async with console.pool.acquire() as conn:
        activity = {row["source"]: row
                    for row in await console.query.source_activity(conn, names)}
        pauses = {row["source"]: row for row in await console.query.source_pauses(conn)}
        totals = await console.query.delivery_totals(conn)
    refused: dict[str, dict[str, int]] = defaultdict(dict)
    for row in totals:
        if row["kind"] == "rejected":
            refused[row["source"]][row["name"]] = int(row["last_day"])
    return page(request, "sources.html", {
        "sources": [(source, activity.get(name), pauses.get(name), refused.get(name, {}))
                    for name, source in console.config.sources.items()]})


@routes.post("/sources/{name}/{action:pause|resume}", name="source_action")
async def source_action(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    name = request.match_info["name"]
    if name not in console.config.sources:
        raise web.HTTPNotFound(text=f"no source {name!r} in the config")
    pause = request.match_info["action"] == "pause"
    async with console.pool.acquire() as conn:
        changed = await console.inbox.set_source_pause(conn, source=name, pause=pause,
                                                       who=operator_of(request).name)
    acted(request, request.match_info["action"], source=name, changed=changed)
    verb = "paused: receivers answer 503 and store nothing" if pause else "resumed"
    raise back_to("/sources", f"{name} {verb}" if changed else f"{name} was already {verb}")
