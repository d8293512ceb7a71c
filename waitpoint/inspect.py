"""The engine's read model: what an operator, a console or a command line may look at,
typed, paged and served by indexes, so that nothing outside the engine reads its tables.

    >>> page = await wp.inspect.jobs(wp.pool, where=JobFilter(state=JobState.SUSPENDED))
    >>> [job.id for job in page.rows], page.next_cursor

Every list is a keyset page (before an id, newest first) from an index. A filter no index
serves (worker, tag, text in args) is checked on a bounded number of candidates, and the
page says how far it looked (`examined`, `examined_to`), so a page costs a bounded time
at any table size. Each method takes the connection (or pool) to read on: a caller with
its own statement timeout passes its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from ._job import Job, JobState
from ._query import Query, QueueView, TableStats, WaitSample, WorkflowState
from ._workflow import WorkflowStatus, status_from_rows
from .sql import Connectable, SqlFiles

T = TypeVar("T")

NEWEST = 2**63 - 1
"""The cursor of a first page: before every id."""

FRESH_FOR = 60.0
"""Seconds the leader's depth sample is used for; older (no leader samples), depth() counts."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its rows, where the next one starts (None: nothing older), and
    how far a bounded search looked (`examined_to`: the oldest id it read)."""

    rows: list[T]
    next_cursor: int | None
    examined: int = 0
    examined_to: int | None = None


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Jobs to list: every field optional. `worker`, `tag` and `args` (text the args
    contain) have no index: a page with them is a bounded search."""

    state: JobState | None = None
    queue: str | None = None
    worker: str | None = None
    tag: str | None = None
    args: str | None = None

    @property
    def needs_search(self) -> bool:
        return any((self.worker, self.tag, self.args))


@dataclass(frozen=True, slots=True)
class JobSignal:
    """A signal sent to one job: pending, or consumed by its await number `consumed_call`.
    `source` says who sent it ("event:42" for a receiver's delivery)."""

    id: int
    name: str | None
    key: str | None
    source: str | None
    payload: bytes
    inserted_at: datetime
    consumed_at: datetime | None
    consumed_call: int | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobDetail:
    """One job in full, with every signal it was sent and what its awaits consumed."""

    job: Job
    signals: list[JobSignal]

    @property
    def wait(self) -> dict[str, Any] | None:
        """What the job waits for now (meta.await): call, key, names, deadline, since."""
        wait = self.job.meta.get("await")
        return wait if isinstance(wait, dict) else None


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """A job snoozed waiting for a signal: what for (`wait`, its meta.await), since when,
    and its deadline (None: it waits until signalled)."""

    id: int
    worker: str
    queue: str
    state: JobState
    wait: dict[str, Any]
    since: datetime | None
    deadline: datetime | None
    workflow_id: int | None
    step: str | None


@dataclass(frozen=True, slots=True)
class BufferedSignal:
    """A keyed signal kept because no job waited on its key yet."""

    id: int
    key: str
    source: str | None
    inserted_at: datetime
    expires_at: datetime | None
    payload_bytes: int


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """A workflow from its aggregate row: jobs per state, the engine's state for it."""

    id: int
    name: str | None
    parent_id: int | None
    unique_name: str | None
    state: WorkflowState
    counts: dict[JobState, int]
    inserted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    signals: list[str] = field(default_factory=list)
    """The names of the workflow signals set on it (get_workflow only)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(self.counts[state] for state in FINISHED_STATES)


@dataclass(frozen=True, slots=True)
class WorkflowNode:
    """A step (its job) or a sub-workflow of a workflow, with what it depends on; a
    sub-workflow's `done` and `total` count its jobs."""

    kind: Literal["step", "workflow"]
    id: int
    name: str
    state: str
    """A JobState for a step, a WorkflowState for a sub-workflow."""
    worker: str | None
    deps: tuple[str, ...]
    done: int | None
    total: int | None


@dataclass(frozen=True, slots=True)
class Depth:
    """Unfinished jobs as (queue, state, count), and the waits: the leader's sample while
    it is fresh (`sampled_at`), else counted for this call (`sampled_at` None)."""

    queues: list[tuple[str, JobState, int]]
    waits: WaitSample
    sampled_at: datetime | None


FINISHED_STATES = (JobState.COMPLETED, JobState.DISCARDED, JobState.CANCELLED)
UNFINISHED_STATES = tuple(state for state in JobState if state not in FINISHED_STATES)
WAITING_STATES = (JobState.SCHEDULED, JobState.SUSPENDED)
"""The states of a job snoozed waiting for a signal (scheduled: until its deadline)."""


def searched_page(rows: Sequence[Mapping[str, Any]], size: int, bound: int,
                  build: Callable[[Mapping[str, Any]], T]) -> Page[T]:
    """A page from a bounded candidate scan (rows with `id`, NULL when nothing matched,
    and `examined`, `examined_to`): the rows that matched, built, and where to go on."""
    examined = rows[0]["examined"] if rows else 0
    examined_to = rows[0]["examined_to"] if rows else None
    found = [row for row in rows if row["id"] is not None]
    if len(found) > size:
        return Page([build(row) for row in found[:size]], found[size - 1]["id"], examined,
                    examined_to)
    built = [build(row) for row in found]
    if examined >= bound and examined_to is not None:
        return Page(built, examined_to, examined, examined_to)  # look further back
    return Page(built, None, examined, examined_to)


def _keyset_page(rows: list[T], size: int) -> Page[T]:
    if len(rows) > size:
        return Page(rows[:size], rows[size - 1].id)  # type: ignore[attr-defined]
    return Page(rows, None)


def _workflow(row: Mapping[str, Any]) -> WorkflowSummary:
    return WorkflowSummary(
        id=row["id"], name=row["name"], parent_id=row["parent_id"],
        unique_name=row["unique_name"], state=row["state"],
        counts={state: row[state.value] for state in JobState},
        inserted_at=row["inserted_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], signals=list(row["signals"]))


class Inspector:
    """The read model of one schema (`Waitpoint.inspect`)."""

    def __init__(self, query: Query) -> None:
        self._query = query
        self._sql = SqlFiles("waitpoint", "inspect_queries", query.schema,
                             shared_fragments=query.fragments)

    # jobs ---------------------------------------------------------------------------------

    async def list_jobs(self, conn: Connectable, *, where: JobFilter = JobFilter(),
                        cursor: int = NEWEST, size: int = 50,
                        bound: int = 5000) -> Page[Job]:
        """A page of jobs, newest first; with worker, tag or args filters, at most `bound`
        candidates are read."""
        scan = bound if where.needs_search else size + 1
        rows = list(await conn.fetch(
            self._sql["list_jobs"], cursor, where.state, where.queue, where.worker,
            where.tag, where.args, scan, size + 1))
        return searched_page(rows, size, scan, Job.from_record)

    async def matching_job_ids(self, conn: Connectable, *, where: JobFilter,
                               cursor: int = NEWEST, limit: int) -> list[int]:
        """The ids a filter matches, newest first: what a bulk action goes through."""
        rows = await conn.fetch(self._sql["matching_job_ids"], cursor, where.state,
                                where.queue, where.worker, where.tag, where.args, limit)
        return [row["id"] for row in rows]

    async def count_matching_jobs(self, conn: Connectable, *, where: JobFilter,
                                  limit: int) -> tuple[int, int | None]:
        """(how many jobs match, at most `limit`; the newest one's id)."""
        row = await conn.fetchrow(self._sql["count_matching_jobs"], NEWEST, where.state,
                                  where.queue, where.worker, where.tag, where.args, limit)
        assert row is not None
        return row["matching"], row["newest"]

    async def job_signals(self, conn: Connectable, job_id: int) -> list[JobSignal]:
        rows = await conn.fetch(self._sql["job_signals"], job_id)
        return [JobSignal(**dict(row)) for row in rows]

    async def job(self, conn: Connectable, job_id: int) -> JobDetail | None:
        """One job with its signals (None: no such job, or pruned)."""
        found = await self._query.get_job(conn, job_id)
        if found is None:
            return None
        return JobDetail(found, await self.job_signals(conn, job_id))

    # waits --------------------------------------------------------------------------------

    async def waiting_jobs(self, conn: Connectable, *, cursor: int = NEWEST,
                           size: int = 50) -> Page[WaitingJob]:
        """Jobs snoozed waiting for a signal, newest first."""
        rows = await conn.fetch(self._sql["waiting_jobs"], cursor, size + 1)
        return _keyset_page([WaitingJob(
            id=row["id"], worker=row["worker"], queue=row["queue"],
            state=JobState(row["state"]), wait=json.loads(row["wait"]), since=row["since"],
            deadline=row["deadline"], workflow_id=row["workflow_id"], step=row["step"],
        ) for row in rows], size)

    async def buffered_signals(self, conn: Connectable, *, cursor: int = NEWEST,
                               size: int = 50) -> Page[BufferedSignal]:
        """Keyed signals kept for a job that does not wait yet, newest first."""
        rows = await conn.fetch(self._sql["buffered_signals"], cursor, size + 1)
        return _keyset_page([BufferedSignal(**dict(row)) for row in rows], size)

    # workflows ----------------------------------------------------------------------------

    async def list_workflows(self, conn: Connectable, *, finished: bool | None = None,
                             cursor: int = NEWEST, size: int = 50) -> Page[WorkflowSummary]:
        """Top-level workflows, newest first; `finished` True or False keeps only those."""
        rows = await conn.fetch(self._sql["list_workflows"], cursor, finished, size + 1)
        return _keyset_page([_workflow(row) for row in rows], size)

    async def get_workflow(self, conn: Connectable, workflow_id: int) -> WorkflowSummary | None:
        row = await conn.fetchrow(self._sql["get_workflow"], workflow_id)
        return None if row is None else _workflow(row)

    async def workflow_steps(self, conn: Connectable, workflow_id: int) -> list[WorkflowNode]:
        """A workflow's steps and sub-workflows, with their dependencies (for a graph)."""
        rows = await conn.fetch(self._sql["workflow_steps"], workflow_id)
        return [WorkflowNode(row["kind"], row["id"], row["name"], row["state"], row["worker"],
                             tuple(row["deps"] or ()), row["done"], row["total"])
                for row in rows]

    async def workflow_status(self, conn: Connectable, workflow_id: int) -> WorkflowStatus:
        """A workflow's counts, state, duration and sub-workflows (LookupError: none)."""
        return status_from_rows(await self._query.workflow_status(conn, workflow_id))

    async def step_names(self, conn: Connectable, workflow_id: int) -> list[str]:
        """What the workflow can be signalled by: its steps, and "sub/step" for its
        sub-workflows' steps."""
        return [row["name"] for row in await conn.fetch(self._sql["step_names"], workflow_id)]

    # nodes and tables ---------------------------------------------------------------------

    async def queues(self, conn: Connectable, *, alive_within: float) -> list[QueueView]:
        """Every producer that beat within `alive_within` seconds: node, queue, limit,
        running, paused, available jobs."""
        return await self._query.list_queues(conn, alive_within=alive_within)

    async def table_stats(self, conn: Connectable) -> list[TableStats]:
        """Every table of the schema: estimated rows, size with indexes, oldest row."""
        return await self._query.table_stats(conn)

    # depth --------------------------------------------------------------------------------

    async def queue_sample(self, conn: Connectable) -> list[tuple[str, JobState, int]]:
        """The leader's latest sample of unfinished jobs per queue and state."""
        rows = await conn.fetch(self._sql["queue_sample"])
        return [(row["queue"], JobState(row["state"]), row["jobs"]) for row in rows]

    async def wait_sample(self, conn: Connectable) -> tuple[WaitSample, datetime, float] | None:
        """The leader's latest sample of the waits, when it was taken and its age in
        seconds (None: no leader ever sampled)."""
        row = await conn.fetchrow(self._sql["wait_sample"])
        if row is None:
            return None
        since = row["oldest_since"]
        age = float(row["age_seconds"])
        oldest = None if since is None else (row["sampled_at"] - since).total_seconds() + age
        return (WaitSample(row["waiting"], since, row["nearest_deadline"], oldest),
                row["sampled_at"], age)

    async def depth(self, conn: Connectable, *, fresh_for: float = FRESH_FOR) -> Depth:
        """Unfinished jobs per queue and state, and the waits: the leader's sample when it
        is at most `fresh_for` seconds old, else counted now (an index scan of every
        unfinished job: a third of a second at a million, too much for a page that
        refreshes itself, which is why the leader samples)."""
        sampled = await self.wait_sample(conn)
        if sampled is not None and sampled[2] <= fresh_for:
            waits, sampled_at, _age = sampled
            return Depth(await self.queue_sample(conn), waits, sampled_at)
        return await self.count_depth(conn)

    async def count_depth(self, conn: Connectable) -> Depth:
        """Depth counted now, with the leader's own sampling queries."""
        queues = [(queue, JobState(state), count)
                  for queue, state, count in await self._query.sample_queues(conn)]
        return Depth(queues, await self._query.sample_waits(conn), None)
