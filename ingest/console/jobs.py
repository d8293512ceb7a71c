"""Jobs: filtered lists; one job in full (args, attempts, errors with tracebacks, its
timeline, what it waits for, every signal it got); cancel, retry, resume, send a signal;
and the same actions on every job a filter matches, with the count shown first."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from waitpoint import Job, JobState, Waitpoint
from waitpoint.inspect import JobFilter, JobSignal

from .present import show_payload
from .state import (
    PAGE_SIZE,
    SEARCH_BOUND,
    acted,
    back_to,
    console_of,
    cursor,
    form_of,
    operator_of,
    page,
    parse_id,
    path_id,
    storable_filter,
)

routes = web.RouteTableDef()

STATES = tuple(state.value for state in JobState)
BULK_LIMIT = 100_000
"""The most jobs one bulk action takes: past that, narrow the filter."""
FILTERS = ("state", "queue", "worker", "tag", "args")


def _parsed_filter(values: Mapping[str, str]) -> JobFilter:
    """The job filter of a page's query or a bulk action's form (400 for an unknown
    state)."""
    text = {name: storable_filter(name, values.get(name) or "") for name in FILTERS}
    state = text.pop("state")
    if state is not None and state not in STATES:
        raise web.HTTPBadRequest(text=f"state: one of {', '.join(STATES)}")
    return JobFilter(state=None if state is None else JobState(state), **text)


def _filter(request: web.Request) -> JobFilter:
    return _parsed_filter(request.query)


def _filter_query(where: JobFilter) -> dict[str, str]:
    return {name: str(value) for name in FILTERS if (value := getattr(where, name))}


@routes.get("/jobs", name="jobs")
async def jobs(request: web.Request) -> web.Response:
    console = console_of(request)
    where = _filter(request)
    async with console.pool.acquire() as conn:
        found = await console.inspect.list_jobs(conn, cursor=cursor(request), where=where,
                                                size=PAGE_SIZE, bound=SEARCH_BOUND)
    return page(request, "jobs.html", {"found": found, "where": where, "states": STATES,
                                       "query": _filter_query(where)})


@routes.get("/jobs/{id}", name="job")
async def job(request: web.Request) -> web.Response:
    console = console_of(request)
    job_id = path_id(request)
    async with console.pool.acquire() as conn:
        detail = await console.inspect.job(conn, job_id)
    if detail is None:
        raise web.HTTPNotFound(text=f"no job {job_id} (pruning may have removed it)")
    found = detail.job
    return page(request, "job.html", {
        "job": found,
        "state": str(found.state),
        "wait": detail.wait,
        "signals": [{"signal": s, "shown": show_payload(s.payload),
                     "event": _event_id(s.source)} for s in detail.signals],
        "memo": _memoized(found),
        "timeline": timeline(found, detail.signals),
        "args": json.dumps(found.args, indent=2, ensure_ascii=False, default=str),
    })


def _event_id(source: str | None) -> int | None:
    """The event a signal came from, when the receiver sent it ("event:42")."""
    if source and source.startswith("event:") and source[6:].isdigit():
        return int(source[6:])
    return None


def _memoized(job: Job) -> list[dict[str, Any]]:
    """The signals the job's awaits consumed, by call number (meta.signals), decoded."""
    memo = job.meta.get("signals") or {}
    calls = []
    for call, entry in sorted(memo.items(), key=lambda item: int(item[0])):
        payload = base64.b64decode(entry["payload"]) if "payload" in entry else None
        calls.append({"call": int(call), "name": entry.get("name"),
                      "scope": entry.get("scope", "job"), "timeout": entry.get("timeout"),
                      "shown": show_payload(payload)})
    return calls


def timeline(job: Job, signals: list[JobSignal]) -> list[tuple[datetime, str]]:
    """Inserted, scheduled, attempted, snoozed, woken, failed, finished: in time order."""
    entries: list[tuple[datetime | None, str]] = [
        (job.inserted_at, "inserted"),
        (job.scheduled_at, "scheduled for"),
        (job.attempted_at, f"attempt {job.attempt} started"),
        (job.completed_at, "completed"),
        (job.cancelled_at, "cancelled"),
        (job.discarded_at, "discarded"),
    ]
    wait = job.meta.get("await") or {}
    if wait.get("snoozed_at"):
        entries.append((datetime.fromisoformat(wait["snoozed_at"]), "snoozed, waiting"))
    for error in job.errors:
        if error.get("at"):
            entries.append((datetime.fromisoformat(error["at"]),
                            f"attempt {error.get('attempt', '?')} failed"))
    for signal in signals:
        label = f"signal {signal.id}" + (f" ({signal.name})" if signal.name else "")
        entries.append((signal.inserted_at, f"{label} arrived"))
        if signal.consumed_at:
            entries.append((signal.consumed_at, f"{label} consumed (woken)"))
    return sorted((when, what) for when, what in entries if when is not None)


Action = Callable[[Waitpoint, int], Awaitable[bool]]


async def _cancel(wp: Waitpoint, job_id: int) -> bool:
    return await wp.cancel_job(job_id)


async def _retry(wp: Waitpoint, job_id: int) -> bool:
    return await wp.retry_job(job_id) is not None


async def _resume(wp: Waitpoint, job_id: int) -> bool:
    return await wp.resume_job(job_id) is not None


ACTIONS: dict[str, tuple[Action, str]] = {
    "cancel": (_cancel, "cancelled"),
    "retry": (_retry, "made available again"),
    "resume": (_resume, "resumed"),
}


@routes.post("/jobs/{id}/{action:cancel|retry|resume}", name="job_action")
async def job_action(request: web.Request) -> web.StreamResponse:
    job_id = path_id(request)
    action, done = ACTIONS[request.match_info["action"]]
    changed = await action(console_of(request).waitpoint, job_id)
    acted(request, request.match_info["action"], job=job_id, changed=changed)
    message = (f"job {job_id} {done}" if changed else
               f"job {job_id} was not {done}: its state does not allow it")
    raise back_to(f"/jobs/{job_id}", message)


def parse_payload(text: str) -> Any:
    """The JSON a person typed as a signal's payload (empty: null)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"payload: not JSON ({error})") from None


@routes.post("/jobs/{id}/signal", name="job_signal")
async def job_signal(request: web.Request) -> web.StreamResponse:
    """Send a signal to the job, with the checks of `signal()` (a name must be a valid
    signal name; the payload must encode)."""
    job_id = path_id(request)
    form = await form_of(request)
    payload = parse_payload(form.get("payload", ""))
    name = form.get("name", "").strip() or None
    try:
        reached = await console_of(request).waitpoint.signal(
            job_id, payload, name=name, source=f"console:{operator_of(request).name}")
    except (TypeError, ValueError) as error:
        raise web.HTTPBadRequest(text=f"signal: {error}") from None
    acted(request, "signal", job=job_id, name=name, reached=reached)
    message = (f"signal sent to job {job_id}: it wakes now if it waits for it, else its next "
               f"await takes it" if reached else
               f"job {job_id} is finished (or gone): no signal was sent")
    raise back_to(f"/jobs/{job_id}", message)


async def _matching(request: web.Request, where: JobFilter, before: int,
                    limit: int) -> list[int]:
    console = console_of(request)
    async with console.pool.acquire() as conn:
        return await console.inspect.matching_job_ids(conn, cursor=before, where=where,
                                                      limit=limit)


@routes.get("/jobs/bulk/{action:cancel|retry|resume}", name="bulk_confirm")
async def bulk_confirm(request: web.Request) -> web.Response:
    """How many jobs the filter matches now, before anything is done to them."""
    where = _filter(request)
    console = console_of(request)
    async with console.pool.acquire() as conn:
        count, newest = await console.inspect.count_matching_jobs(conn, where=where,
                                                                  limit=BULK_LIMIT + 1)
    return page(request, "bulk_confirm.html", {
        "action": request.match_info["action"], "count": count,
        "too_many": count > BULK_LIMIT, "limit": BULK_LIMIT,
        "before": (newest + 1) if newest else 0, "query": _filter_query(where)})


@routes.post("/jobs/bulk/{action:cancel|retry|resume}", name="bulk_run")
async def bulk_run(request: web.Request) -> web.StreamResponse:
    """The action on every job the filter matches that existed when it was confirmed
    (`before`: jobs inserted since are left alone), a batch at a time."""
    form = await form_of(request)
    name = request.match_info["action"]
    action, done = ACTIONS[name]
    where = _parsed_filter(form)
    before = parse_id(form.get("before", "")) or 0
    wp = console_of(request).waitpoint
    changed = examined = 0
    while examined < BULK_LIMIT:
        ids = await _matching(request, where, before, 500)
        if not ids:
            break
        for job_id in ids:
            changed += await action(wp, job_id)
        examined += len(ids)
        before = ids[-1]
    acted(request, f"bulk_{name}", filter=_filter_query(where), matched=examined,
          changed=changed)
    location = "/jobs?" + urlencode(_filter_query(where))
    raise back_to(location, f"{changed} of {examined} matching jobs {done}")
