"""Waiting: the jobs that wait for a signal (by key, by id, by name), how long they have
waited and their deadline; and the keyed signals kept for jobs that do not wait yet."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from .state import PAGE_SIZE, console_of, cursor, page

routes = web.RouteTableDef()


@routes.get("/waiting", name="waiting")
async def waiting(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.pool.acquire() as conn:
        jobs = await console.inspect.waiting_jobs(conn, cursor=cursor(request), size=PAGE_SIZE)
        buffered = await console.inspect.buffered_signals(
            conn, cursor=cursor(request, "signals_before"),
            size=PAGE_SIZE)
        depths = await console.inspect.depth(conn)
    return page(request, "waiting.html", {"jobs": jobs, "buffered": buffered,
                                          "summary": depths.waits,
                                          "sampled_at": depths.sampled_at,
                                          "now": datetime.now(UTC)})
