"""Workflows: jobs with dependencies, signals by step name, aggregate status, unique names.

>>> workflow = (
...     Workflow(name="onboarding")
...     .add("approval", ApprovalWorker.new({"user_id": 123}))
...     .add("charge", ChargeWorker.new({"user_id": 123}), deps=["approval"])
... )
>>> await wp.enqueue_many(workflow)
>>> await workflow.signal("approval", {"decision": "approved"})
>>> (await workflow.status()).state
'executing'

Steps with unmet dependencies are inserted `suspended`; the database makes them
available when every dependency completed (or cancels them when one was cancelled or
discarded, unless the step ignores that), in the transaction that finished the dependency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import codec
from ._job import Job, JobState
from ._names import check_name
from ._query import Query, WorkflowRow, WorkflowState
from .sql import Connectable


@dataclass(frozen=True)
class _Step:
    job: Job
    deps: tuple[str, ...]
    ignore_cancelled: bool
    ignore_discarded: bool


@dataclass(frozen=True)
class _Sub:
    workflow: Workflow
    deps: tuple[str, ...]
    propagate_to_parent: bool = True


@dataclass(frozen=True)
class WorkflowStatus:
    """One lookup in the aggregate table, whatever the number of jobs."""

    id: int
    name: str | None
    state: WorkflowState
    counts: dict[str, int]
    total: int
    inserted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: timedelta
    subs: dict[str, WorkflowStatus] = field(default_factory=dict)
    signals: dict[str, datetime] = field(default_factory=dict)
    """The named workflow signals set on this (sub-)workflow, and when (the latest)."""


def _names(deps: str | Sequence[str] | None) -> tuple[str, ...]:
    if deps is None:
        return ()
    return (deps,) if isinstance(deps, str) else tuple(deps)


class Workflow:
    """A set of jobs (steps) and the dependencies between them."""

    def __init__(self, name: str | None = None, unique: bool = False) -> None:
        if unique and not name:
            raise ValueError("unique: a unique workflow needs a name")
        self.name = name
        self.unique = unique
        self.id: int | None = None
        self._steps: dict[str, _Step | _Sub] = {}
        self._appending = False
        self._bound: tuple[Query, Connectable] | None = None

    @classmethod
    def append(cls, workflow_id: int) -> Workflow:
        """Add steps to an existing workflow (always allowed, unique or not); deps may name
        the steps it already has."""
        workflow = cls()
        workflow.id = workflow_id
        workflow._appending = True
        return workflow

    def _check_new(self, name: str, deps: tuple[str, ...]) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"step name: {name!r} must be a non-empty string without '/'")
        if name in self._steps:
            raise ValueError(f"step name: {name!r} is already a step of this workflow")
        for dep in deps:
            if dep not in self._steps and not self._appending:
                raise ValueError(f"deps: unknown step {dep!r} for {name!r} (deps name steps "
                                 "added before, which also rules out cycles)")

    def add(self, name: str, job: Job, deps: str | Sequence[str] | None = None, *,
            ignore_cancelled: bool = False, ignore_discarded: bool = False) -> Workflow:
        deps_tuple = _names(deps)
        self._check_new(name, deps_tuple)
        if job.id is not None:
            raise ValueError(f"step {name!r}: the job is already inserted (id {job.id})")
        self._steps[name] = _Step(job, deps_tuple, ignore_cancelled, ignore_discarded)
        return self

    def add_workflow(self, name: str, sub: Workflow,
                     deps: str | Sequence[str] | None = None, *,
                     propagate_to_parent: bool = True) -> Workflow:
        """Nest `sub`: it counts as one step for the steps that depend on `name`. With
        `propagate_to_parent=False`, what is broadcast in `sub` stays out of this one."""
        deps_tuple = _names(deps)
        self._check_new(name, deps_tuple)
        if not sub._steps:
            raise ValueError(f"sub-workflow {name!r} has no steps")
        self._steps[name] = _Sub(sub, deps_tuple, propagate_to_parent)
        return self

    # after enqueue ---------------------------------------------------------------------

    def _enqueued(self) -> tuple[Query, Connectable, int]:
        if self._bound is None or self.id is None:
            raise RuntimeError("this workflow is not enqueued yet: `await wp.enqueue_many(wf)`")
        return (*self._bound, self.id)

    async def signal(self, names: str | Sequence[str], payload: Any) -> list[int]:
        """Signal steps by name ("approval"), by list, or by sub-workflow path
        ("import/approval"). Returns the job ids reached."""
        query, pool, workflow_id = self._enqueued()
        steps = [names] if isinstance(names, str) else list(names)
        return await query.signal_workflow(pool, workflow_id=workflow_id, steps=steps,
                                           payload=codec.encode(payload), source=None)

    async def broadcast(self, name: str, payload: Any = None, *,
                        propagate: bool = True) -> list[int]:
        """Set this workflow's signal `name` (the latest value wins): every step that
        awaits it with `scope="workflow"`, now or later, gets it, and none consumes it from
        the others. With `propagate`, it reaches the sub-workflows and the parent (unless
        this one was added with propagate_to_parent=False), and onwards. Returns the ids of
        the workflows reached."""
        query, pool, workflow_id = self._enqueued()
        return await query.broadcast_workflow_signal(
            pool, workflow_id=workflow_id, name=check_name(name),
            payload=codec.encode(payload), source=None, propagate=propagate)

    async def status(self) -> WorkflowStatus:
        query, pool, workflow_id = self._enqueued()
        return status_from_rows(await query.workflow_status(pool, workflow_id))

    # insertion (called by Waitpoint.enqueue_many) ------------------------------------------

    def _jobs_for(self, workflow_id: int, parent_deps: tuple[str, ...]) -> list[Job]:
        """The step jobs of this (sub-)workflow, as rows to insert."""
        jobs = []
        for name, entry in self._steps.items():
            if isinstance(entry, _Sub):
                continue
            deps = entry.deps + tuple(f"../{d}" for d in parent_deps if not entry.deps)
            meta = dict(entry.job.meta)
            if entry.ignore_cancelled or entry.ignore_discarded:
                meta["workflow"] = {"ignore_cancelled": entry.ignore_cancelled,
                                    "ignore_discarded": entry.ignore_discarded}
            state = JobState.SUSPENDED if deps else entry.job.state
            jobs.append(dataclasses.replace(
                entry.job, workflow_id=workflow_id, step=name, deps=list(deps) or None,
                meta=meta, state=state, extra=dict(entry.job.extra)))
        return jobs


async def insert_workflow(query: Query, pool: Connectable, workflow: Workflow,
                          conn: Connectable) -> list[Job]:
    """Insert a whole workflow in the caller's transaction (`conn`); the workflow object is
    then bound to `pool` for signal() and status(). See Waitpoint.enqueue_many."""
    if workflow._appending:
        assert workflow.id is not None
        existing = await query.workflow_names(conn, workflow.id)
        if not await query.workflow_exists(conn, workflow.id):
            raise ValueError(f"workflow {workflow.id} does not exist")
        for name, entry in workflow._steps.items():
            if name in existing:
                raise ValueError(f"step name: {name!r} is already a step of workflow "
                                 f"{workflow.id}")
            for dep in entry.deps:
                if dep not in existing and dep not in workflow._steps:
                    raise ValueError(f"deps: workflow {workflow.id} has no step {dep!r}")
        workflow_id = workflow.id
    else:
        inserted_id = await query.insert_workflow(conn, name=workflow.name,
                                                  unique=workflow.unique)
        if inserted_id is None:
            return [dataclasses.replace(entry.job, extra={**entry.job.extra, "conflicted": True})
                    for entry in _all_steps(workflow)]
        workflow_id = inserted_id
    rows: list[Job] = []
    await _collect(query, workflow, workflow_id, (), conn, rows)
    inserted = [job.as_inserted(row)
                for row, job in zip(await query.insert_jobs(conn, rows), rows, strict=True)]
    if workflow._appending:
        # Appended steps may depend on steps that completed already.
        waiting = [job.id for job in inserted
                   if job.id is not None and job.state == JobState.SUSPENDED and job.deps]
        if waiting:
            await query.resolve_steps(conn, waiting)
    workflow.id = workflow_id
    workflow._bound = (query, pool)
    return inserted


async def _collect(query: Query, workflow: Workflow, workflow_id: int,
                   parent_deps: tuple[str, ...], conn: Connectable, rows: list[Job]) -> None:
    rows.extend(workflow._jobs_for(workflow_id, parent_deps))
    for name, entry in workflow._steps.items():
        if isinstance(entry, _Sub):
            sub_id = await query.insert_sub_workflow(
                conn, name=name, parent_id=workflow_id,
                propagate_to_parent=entry.propagate_to_parent)
            await _collect(query, entry.workflow, sub_id, entry.deps, conn, rows)


def _all_steps(workflow: Workflow) -> list[_Step]:
    steps: list[_Step] = []
    for entry in workflow._steps.values():
        if isinstance(entry, _Sub):
            steps.extend(_all_steps(entry.workflow))
        else:
            steps.append(entry)
    return steps


def status_from_rows(rows: Sequence[WorkflowRow]) -> WorkflowStatus:
    """Build the status tree from workflow_status.sql's rows (root first)."""
    by_id: dict[int, WorkflowStatus] = {}
    root: WorkflowStatus | None = None
    for row in rows:
        start = row.started_at or row.inserted_at
        end = row.finished_at or row.db_now
        status = WorkflowStatus(
            id=row.id, name=row.name, state=row.state, counts=row.counts,
            total=sum(row.counts.values()), inserted_at=row.inserted_at,
            started_at=row.started_at, finished_at=row.finished_at,
            duration=max(end - start, timedelta(0)), signals=row.signals,
        )
        by_id[row.id] = status
        if root is None:
            root = status
        elif row.parent_id is not None and row.name is not None:
            by_id[row.parent_id].subs[row.name] = status
    if root is None:
        raise LookupError("no such workflow")
    return root
