"""Deliveries: every stored event, newest first, with filters; one event in full (headers,
body, what each delivery reached, linked); route it again with the current config, or see
what the current config would do (a dry run)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

import routing

from ..prepared import describe
from ..redaction import REDACTED
from ..replay import evaluate_stored, replay_events
from .console_sql import EventFilter
from .present import show_body
from .state import (
    PAGE_SIZE,
    SEARCH_BOUND,
    acted,
    back_to,
    console_of,
    cursor,
    form_of,
    page,
    path_id,
    text_filter,
    time_filter,
)

routes = web.RouteTableDef()

OUTCOMES = ("routed", "unrouted", "no_target", "payload_error")


def _filter(request: web.Request) -> EventFilter:
    outcome = text_filter(request, "outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise web.HTTPBadRequest(text=f"outcome: one of {', '.join(OUTCOMES)}")
    return EventFilter(source=text_filter(request, "source"), outcome=outcome,
                       delivery_id=text_filter(request, "delivery_id"),
                       since=time_filter(request, "since"), until=time_filter(request, "until"),
                       text=text_filter(request, "text"))


@routes.get("/deliveries", name="deliveries")
async def deliveries(request: web.Request) -> web.Response:
    console = console_of(request)
    where = _filter(request)
    sources = [where.source] if where.source else console.sources
    async with console.pool.acquire() as conn:
        found = await console.query.list_events(conn, cursor=cursor(request), where=where,
                                                sources=sources, size=PAGE_SIZE,
                                                bound=SEARCH_BOUND)
    return page(request, "deliveries.html", {
        "found": found, "where": where, "outcomes": OUTCOMES, "sources": console.sources,
        "query": {k: v for k, v in request.query.items() if k not in ("before", "message")},
    })


async def _event(request: web.Request) -> dict[str, Any]:
    console = console_of(request)
    event_id = path_id(request)
    async with console.pool.acquire() as conn:
        row = await console.query.get_event(conn, event_id)
    if row is None:
        raise web.HTTPNotFound(text=f"no event {event_id} (retention may have removed it)")
    return dict(row)


@routes.get("/deliveries/{id}", name="delivery")
async def delivery(request: web.Request) -> web.Response:
    event = await _event(request)
    headers = json.loads(event["headers"])
    return page(request, "delivery.html", {
        "event": event,
        "headers": sorted(headers.items()),
        "redacted": REDACTED,
        "query_params": json.loads(event["query"]),
        "body": show_body(bytes(event["body"]), headers.get("content-type")),
        "signals": json.loads(event["signals"]),
        "errors": json.loads(event["errors"]),
        "configured": event["source"] in console_of(request).config.sources,
    })


@routes.get("/deliveries/{id}/dry-run", name="dry_run")
async def dry_run(request: web.Request) -> web.Response:
    """What the current config makes of this event: routes, targets, payloads, errors.
    Nothing is delivered or stored."""
    console = console_of(request)
    event_id = path_id(request)
    async with console.pool.acquire() as conn:
        found = await console.inbox.events_to_replay(conn, source=None, since=None,
                                                     outcome=None, ids=[event_id])
    if not found:
        raise web.HTTPNotFound(text=f"no event {event_id} (retention may have removed it)")
    result: dict[str, Any] | None = None
    problem = None
    try:
        result = describe(evaluate_stored(console.config, found[0]))
    except KeyError:
        problem = f"the current config has no source {found[0].source!r}"
    except routing.BodyError as error:
        problem = f"the body cannot be parsed: {error}"
    return page(request, "_dry_run.html", {"result": result, "problem": problem})


@routes.post("/deliveries/{id}/replay", name="replay")
async def replay(request: web.Request) -> web.StreamResponse:
    """Route the event again with the current config, as `waitpoint replay --events --id N`
    (`force` re-delivers an event that already signalled: the page asks first)."""
    console = console_of(request)
    event_id = path_id(request)
    form = await form_of(request)
    force = form.get("force") == "yes"
    results = await replay_events(console.waitpoint, console.config, ids=[event_id],
                                  force=force)
    if not results:
        raise web.HTTPNotFound(text=f"no event {event_id}")
    result = results[0]
    acted(request, "replay", event_id=event_id, force=force, outcome=result.outcome,
          signals=result.signals)
    if result.outcome.startswith("skipped"):
        return page(request, "confirm_force.html", {"event_id": event_id})
    raise back_to(f"/deliveries/{event_id}",
                  f"routed again: {result.outcome}, {result.signals} job(s) signalled")
