"""Workflows: the list with aggregate state, progress and duration (from the workflows
table's counts, never a scan of jobs); one workflow as a graph of its steps and
sub-workflows, each linked; signal a step or set a workflow signal from there."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from waitpoint import JobState
from waitpoint.inspect import WorkflowSummary

from .jobs import parse_payload
from .present import dependency_layers, graph_layout
from .state import (
    PAGE_SIZE,
    acted,
    back_to,
    console_of,
    cursor,
    form_of,
    operator_of,
    page,
    path_id,
    text_filter,
)

routes = web.RouteTableDef()

FINISHED = {"running": False, "finished": True}
"""The list's state filter: unfinished or finished workflows."""


def progress(workflow: WorkflowSummary) -> dict[str, Any]:
    counts = workflow.counts
    if workflow.finished_at is not None:
        failed = counts[JobState.DISCARDED] or counts[JobState.CANCELLED]
        state = "failed" if failed else "completed"
    elif counts[JobState.EXECUTING] or counts[JobState.AVAILABLE]:
        state = "running"
    elif counts[JobState.SUSPENDED] or counts[JobState.SCHEDULED] or counts[JobState.RETRYABLE]:
        state = "waiting"
    else:
        state = "pending"
    total, done = workflow.total, workflow.done
    return {"total": total, "done": done, "state": state,
            "percent": round(100 * done / total) if total else 0,
            "waiting": counts[JobState.SUSPENDED] + counts[JobState.SCHEDULED]}


@routes.get("/workflows", name="workflows")
async def workflows(request: web.Request) -> web.Response:
    console = console_of(request)
    state = text_filter(request, "state")
    if state is not None and state not in FINISHED:
        raise web.HTTPBadRequest(text="state: running or finished")
    async with console.pool.acquire() as conn:
        found = await console.inspect.list_workflows(
            conn, cursor=cursor(request), size=PAGE_SIZE,
            finished=None if state is None else FINISHED[state])
    return page(request, "workflows.html", {
        "found": found, "state": state,
        "rows": [(row, progress(row)) for row in found.rows]})


async def _graph(request: web.Request, workflow_id: int, *,
                 signal_targets: bool = False) -> dict[str, Any]:
    console = console_of(request)
    async with console.pool.acquire() as conn:
        found = await console.inspect.get_workflow(conn, workflow_id)
        if found is None:
            raise web.HTTPNotFound(text=f"no workflow {workflow_id}")
        steps = await console.inspect.workflow_steps(conn, workflow_id)
        names = await console.inspect.step_names(conn, workflow_id) if signal_targets else []
    return {"workflow": found, "progress": progress(found),
            "layout": graph_layout(dependency_layers(steps)), "steps": names}


@routes.get("/workflows/{id}", name="workflow")
async def workflow(request: web.Request) -> web.Response:
    return page(request, "workflow.html",
                await _graph(request, path_id(request), signal_targets=True))


@routes.get("/workflows/{id}/graph")
async def workflow_graph(request: web.Request) -> web.Response:
    """A sub-workflow's graph, fetched when it is expanded."""
    return page(request, "_workflow_graph.html", await _graph(request, path_id(request)))


@routes.post("/workflows/{id}/signal", name="workflow_signal")
async def workflow_signal(request: web.Request) -> web.StreamResponse:
    """Signal steps by name (a sub-workflow step as "sub/step"), as signal_workflow()."""
    workflow_id = path_id(request)
    form = await form_of(request)
    step = form.get("step", "").strip()
    if not step:
        raise web.HTTPBadRequest(text="step: give a step name")
    payload = parse_payload(form.get("payload", ""))
    wp = console_of(request).waitpoint
    try:
        reached = await wp.signal_workflow(workflow_id, step, payload,
                                           source=f"console:{operator_of(request).name}")
    except (TypeError, ValueError) as error:
        raise web.HTTPBadRequest(text=f"signal: {error}") from None
    acted(request, "workflow_signal", workflow=workflow_id, step=step, reached=reached)
    raise back_to(f"/workflows/{workflow_id}",
                  f"signal sent to step {step}: {len(reached)} job(s) reached")


@routes.post("/workflows/{id}/broadcast", name="workflow_broadcast")
async def workflow_broadcast(request: web.Request) -> web.StreamResponse:
    """Set a workflow's named signal (latest wins), as Workflow.broadcast()."""
    workflow_id = path_id(request)
    form = await form_of(request)
    payload = parse_payload(form.get("payload", ""))
    try:
        reached = await console_of(request).waitpoint.broadcast_workflow(
            workflow_id, form.get("name", "").strip(), payload,
            propagate=form.get("propagate") == "yes",
            source=f"console:{operator_of(request).name}")
    except (TypeError, ValueError) as error:
        raise web.HTTPBadRequest(text=f"broadcast: {error}") from None
    acted(request, "workflow_broadcast", workflow=workflow_id, name=form.get("name"),
          workflows=reached)
    raise back_to(f"/workflows/{workflow_id}", f"set on {len(reached)} workflow(s)")
