"""The engine's SQL, one typed method per file of queries/: the only module that runs it.

Every other part of the engine gets a `Query` (and a pool or connection) and calls these
methods with named, typed arguments; no positional `$n` arguments leave this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ._ack import Ack, SnoozeAck, ack_arrays, snooze_arrays
from ._job import Job, JobState
from .sql import Connectable, SqlFiles, text_array_literal

WorkflowState = Literal["pending", "executing", "waiting", "completed", "cancelled",
                        "discarded"]
"""pending: nothing started yet; executing: a job runs; waiting: started, nothing runs
(steps wait for signals, dependencies, a schedule or a retry); then how it finished."""
Channel = Literal["jobs", "signals", "cancel", "control"]

@dataclass(frozen=True, slots=True)
class Consumed:
    """A signal consumed for a waiting call (payload None: none was there), and the
    database's clock, against which deadlines are checked."""

    payload: bytes | None
    db_now: datetime
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SnoozeResult:
    """A committed wait: `available` when a signal had come meanwhile (the job re-runs)."""

    job_id: int
    available: bool


@dataclass(frozen=True, slots=True)
class Rescued:
    id: int
    state: Literal["available", "discarded"]


@dataclass(frozen=True, slots=True)
class Pruned:
    jobs: int
    signals: int


@dataclass(frozen=True, slots=True)
class ProducerBeat:
    uuid: uuid.UUID
    node: str
    queue: str
    limit: int
    paused: bool = False
    running: int = 0


@dataclass(frozen=True, slots=True)
class WaitSample:
    """Jobs waiting for a signal: how many, since when the oldest waits (and for how many
    seconds), the nearest deadline."""

    waiting: int
    oldest_since: datetime | None
    nearest_deadline: datetime | None
    oldest_seconds: float | None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Unfinished jobs as (queue, state, count), and the waits."""

    queues: list[tuple[str, str, int]]
    waits: WaitSample


@dataclass(frozen=True, slots=True)
class TableStats:
    """One table of `waitpoint stats`: rows are the planner's estimate."""

    table: str
    estimated_rows: int
    total_bytes: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class QueueControl:
    """What a queue was told for one node; None: not set, the node's own settings hold."""

    paused: bool | None
    limit: int | None


@dataclass(frozen=True, slots=True)
class QueueView:
    node: str
    queue: str
    limit: int
    running: int
    paused: bool
    available: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """One (sub-)workflow of workflow_status.sql, root first."""

    id: int
    name: str | None
    parent_id: int | None
    state: WorkflowState
    counts: dict[str, int]
    inserted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    db_now: datetime
    signals: dict[str, datetime]


def _json_text(job: Job, index: int, name: str, value: dict[str, Any]) -> str:
    if not value:
        return "{}"
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} of job {index} ({job.worker}): must be "
                         f"JSON-serialisable ({error})") from None


def insert_arrays(jobs: Sequence[Job]) -> tuple[list[Any] | None, ...]:
    """The column arrays insert_jobs.sql reads, in its parameter order."""
    columns: tuple[list[Any], ...] = tuple([] for _ in range(13))  # NULL: the default
    (states, queues, workers, args, metas, tags, max_attempts, priorities, scheduled_ats,
     schedule_ins, workflow_ids, steps, deps) = columns
    for index, job in enumerate(jobs):
        job.check_insertable()
        states.append(None if job.state is JobState.AVAILABLE else str(job.state))
        queues.append(job.queue)
        workers.append(job.worker)
        args.append(_json_text(job, index, "args", job.args))
        metas.append(_json_text(job, index, "meta", job.meta) if job.meta else None)
        tags.append(text_array_literal(job.tags) if job.tags else None)
        max_attempts.append(job.max_attempts)
        priorities.append(job.priority)
        scheduled_ats.append(job.scheduled_at)
        schedule_ins.append(job.schedule_in)
        workflow_ids.append(job.workflow_id)
        steps.append(job.step)
        deps.append(text_array_literal(job.deps))
    # A column that is all NULL travels as one NULL (unnest() pads it): asyncpg checks
    # every element it encodes, so a typical batch (no tags, meta, times, workflow) sends
    # 5 arrays, not 13.
    return tuple(None if all(v is None for v in column) else column for column in columns)


class Query:
    """The engine's statements for one schema."""

    def __init__(self, schema: str) -> None:
        self._sql = SqlFiles("waitpoint", "queries", schema, fragment_files=("job_columns",))
        self.schema = self._sql.schema
        self.fragments = self._sql.fragments
        """Pieces other statements of the engine include (the job column list)."""

    def channel(self, name: Channel) -> str:
        return f"{self.schema}_{name}"

    # jobs -----------------------------------------------------------------------------

    async def insert_jobs(self, conn: Connectable,
                          jobs: Sequence[Job]) -> list[tuple[int, datetime, datetime]]:
        """Insert in one round trip; returns (id, inserted_at, scheduled_at) per job, in
        input order (Job.as_inserted makes the inserted Job of it)."""
        records = await conn.fetch(self._sql["insert_jobs"], *insert_arrays(jobs))
        return [(record[0], record[1], record[2]) for record in records]

    async def get_job(self, conn: Connectable, job_id: int) -> Job | None:
        record = await conn.fetchrow(self._sql["get_job"], job_id)
        return None if record is None else Job.from_record(record)

    async def cancel_job(self, conn: Connectable, job_id: int) -> bool:
        return await conn.fetchrow(self._sql["cancel_job"], job_id) is not None

    async def retry_job(self, conn: Connectable, job_id: int) -> Job | None:
        record = await conn.fetchrow(self._sql["retry_job"], job_id)
        return None if record is None else Job.from_record(record)

    async def resume_job(self, conn: Connectable, job_id: int) -> Job | None:
        record = await conn.fetchrow(self._sql["resume_job"], job_id)
        return None if record is None else Job.from_record(record)

    async def ack_and_fetch_jobs(self, conn: Connectable, *, queue: str, demand: int,
                                 node: str, producer: uuid.UUID,
                                 acks: Sequence[Ack]) -> list[Job]:
        records = await conn.fetch(self._sql["ack_and_fetch_jobs"], queue, demand, node,
                                   str(producer), *ack_arrays(acks))
        return [Job.from_record(record) for record in records]

    async def table_stats(self, conn: Connectable) -> list[TableStats]:
        rows = await conn.fetch(self._sql["table_stats"])
        return [TableStats(row["table_name"], row["estimated_rows"], row["total_bytes"],
                           row["oldest"]) for row in rows]

    async def sample_queues(self, conn: Connectable) -> list[tuple[str, str, int]]:
        rows = await conn.fetch(self._sql["sample_queues"])
        return [(row["queue"], row["state"], row["jobs"]) for row in rows]

    async def sample_waits(self, conn: Connectable) -> WaitSample:
        row = await conn.fetchrow(self._sql["sample_waits"])
        since = row["oldest_since"]
        return WaitSample(row["waiting"], since, row["nearest_deadline"],
                          None if since is None else (row["db_now"] - since).total_seconds())

    async def record_depth_sample(self, conn: Connectable, *,
                                  depths: Sequence[tuple[str, str, int]],
                                  waits: WaitSample) -> None:
        """Keep the latest sample where every process (the console) can read it."""
        await conn.execute(self._sql["record_depth_sample"], [d[0] for d in depths],
                           [d[1] for d in depths], [d[2] for d in depths], waits.waiting,
                           waits.oldest_since, waits.nearest_deadline)

    async def make_queue_due(self, conn: Connectable, *, queue: str) -> None:
        await conn.execute(self._sql["make_queue_due"], queue)

    async def stage_jobs(self, conn: Connectable, *, limit: int) -> None:
        await conn.execute(self._sql["stage_jobs"], limit)

    async def rescue_jobs(self, conn: Connectable, *, silent_for: float) -> list[Rescued]:
        rows = await conn.fetch(self._sql["rescue_jobs"], silent_for)
        return [Rescued(row["id"], row["state"]) for row in rows]

    async def prune_jobs(self, conn: Connectable, *, older_than: float, limit: int) -> Pruned:
        row = await conn.fetchrow(self._sql["prune_jobs"], older_than, limit)
        return Pruned(jobs=row["jobs"], signals=row["signals"])

    # nodes ----------------------------------------------------------------------------

    async def elect_leader(self, conn: Connectable, *, name: str, node: str,
                           ttl: float) -> str | None:
        """The node holding leadership now (None while another node's term runs)."""
        holder: str | None = await conn.fetchval(self._sql["elect_leader"], name, node, ttl)
        return holder

    async def resign_leader(self, conn: Connectable, *, name: str, node: str) -> None:
        await conn.execute(self._sql["resign_leader"], name, node)

    async def heartbeat_producers(self, conn: Connectable,
                                  producers: Sequence[ProducerBeat]) -> None:
        await conn.execute(self._sql["heartbeat_producers"], [p.uuid for p in producers],
                           [p.node for p in producers], [p.queue for p in producers],
                           [p.limit for p in producers], [p.paused for p in producers],
                           [p.running for p in producers])

    async def control_queue(self, conn: Connectable, *, queue: str, node: str | None,
                            paused: bool | None, limit: int | None) -> None:
        await conn.execute(self._sql["control_queue"], queue, node, paused, limit)

    async def queue_control(self, conn: Connectable, *, queue: str, node: str) -> QueueControl:
        row = await conn.fetchrow(self._sql["queue_control"], queue, node)
        return QueueControl(row["paused"], row["limit_"])

    async def list_queues(self, conn: Connectable, *, alive_within: float) -> list[QueueView]:
        rows = await conn.fetch(self._sql["list_queues"], alive_within)
        return [QueueView(row["node"], row["queue"], row["limit_"], row["running"],
                          row["paused"], row["available"], row["updated_at"]) for row in rows]

    async def release_jobs(self, conn: Connectable,
                           producers: Sequence[uuid.UUID]) -> list[Rescued]:
        rows = await conn.fetch(self._sql["release_jobs"], [str(p) for p in producers])
        return [Rescued(row["id"], row["state"]) for row in rows]

    async def delete_producers(self, conn: Connectable, uuids: Sequence[uuid.UUID]) -> None:
        await conn.execute(self._sql["delete_producers"], list(uuids))

    # signals --------------------------------------------------------------------------

    async def signal_jobs(self, conn: Connectable, *, job_ids: Sequence[int], payload: bytes,
                          source: str | None, name: str | None = None) -> list[int]:
        reached = await conn.fetchval(self._sql["signal_jobs"], list(job_ids), payload, source,
                                      name)
        return list(reached)

    async def signal_key(self, conn: Connectable, *, key: str, payload: bytes,
                         source: str | None, keep_for: float | None) -> list[int]:
        """Deliver by key; kept `keep_for` seconds for a later waiter when nobody waits
        (None: no expiry)."""
        reached = await conn.fetchval(self._sql["signal_key"], key, payload, source, keep_for)
        return list(reached)

    async def consume_signal(self, conn: Connectable, *, job_id: int, call: int,
                             key: str | None, names: Sequence[str] | None = None) -> Consumed:
        """Consume the oldest pending signal among `names` (None: unnamed ones)."""
        row = await conn.fetchrow(self._sql["consume_signal"], job_id, call, key, True,
                                  None if names is None else list(names))
        return Consumed(row["payload"], row["db_now"], row["signal_name"])

    async def read_workflow_signal(self, conn: Connectable, *, job_id: int, call: int,
                                   names: Sequence[str]) -> Consumed:
        """The latest value of one of `names` on the job's workflow, recorded as `call`."""
        row = await conn.fetchrow(self._sql["read_workflow_signal"], job_id, call, list(names))
        return Consumed(row["payload"], row["db_now"], row["signal_name"])

    async def peek_job_signal(self, conn: Connectable, *, job_id: int,
                              name: str | None) -> bytes | None:
        payload: bytes | None = await conn.fetchval(self._sql["peek_job_signal"], job_id, name)
        return payload

    async def peek_workflow_signal(self, conn: Connectable, *, workflow_id: int,
                                   name: str) -> tuple[bytes, datetime] | None:
        row = await conn.fetchrow(self._sql["peek_workflow_signal"], workflow_id, name)
        return None if row is None else (row["payload"], row["set_at"])

    async def broadcast_workflow_signal(self, conn: Connectable, *, workflow_id: int,
                                        name: str, payload: bytes, source: str | None,
                                        propagate: bool) -> list[int]:
        """Set the named signal on the workflow (and where it propagates); the workflows
        reached."""
        reached = await conn.fetchval(self._sql["broadcast_workflow_signal"], workflow_id,
                                      name, payload, source, propagate)
        return list(reached)

    async def snooze_jobs(self, conn: Connectable, *,
                          snoozes: Sequence[SnoozeAck]) -> list[SnoozeResult]:
        """Commit waits entered since the last cycle: each job suspends (or is scheduled
        for its deadline), or becomes available when a signal came meanwhile."""
        rows = await conn.fetch(self._sql["snooze_jobs"], *snooze_arrays(snoozes))
        return [SnoozeResult(row["job_id"], row["available"]) for row in rows]

    async def record_signal_timeout(self, conn: Connectable, *, job_id: int,
                                    call: int) -> None:
        await conn.execute(self._sql["record_signal_timeout"], job_id, call)

    # workflows ------------------------------------------------------------------------

    async def insert_workflow(self, conn: Connectable, *, name: str | None,
                              unique: bool) -> int | None:
        """The new workflow's id; None when a unique one of that name is still running."""
        workflow_id: int | None = await conn.fetchval(self._sql["insert_workflow"], name,
                                                      unique)
        return workflow_id

    async def insert_sub_workflow(self, conn: Connectable, *, name: str, parent_id: int,
                                  propagate_to_parent: bool) -> int:
        sub_id: int = await conn.fetchval(self._sql["insert_sub_workflow"], name, parent_id,
                                          propagate_to_parent)
        return sub_id

    async def workflow_exists(self, conn: Connectable, workflow_id: int) -> bool:
        return bool(await conn.fetchval(self._sql["workflow_exists"], workflow_id))

    async def workflow_names(self, conn: Connectable, workflow_id: int) -> set[str]:
        rows = await conn.fetch(self._sql["workflow_names"], workflow_id)
        return {row["name"] for row in rows}

    async def resolve_steps(self, conn: Connectable, job_ids: Sequence[int]) -> None:
        await conn.execute(self._sql["resolve_steps"], list(job_ids))

    async def signal_workflow(self, conn: Connectable, *, workflow_id: int,
                              steps: Sequence[str], payload: bytes,
                              source: str | None) -> list[int]:
        reached = await conn.fetchval(self._sql["signal_workflow"], workflow_id, list(steps),
                                      payload, source)
        return list(reached)

    async def workflow_status(self, conn: Connectable, workflow_id: int) -> list[WorkflowRow]:
        rows = await conn.fetch(self._sql["workflow_status"], workflow_id)
        return [WorkflowRow(
            id=row["id"], name=row["name"], parent_id=row["parent_id"], state=row["state"],
            counts={state.value: row[state.value] for state in JobState},
            inserted_at=row["inserted_at"], started_at=row["started_at"],
            finished_at=row["finished_at"], db_now=row["db_now"],
            signals=dict(zip(row["signal_names"], row["signal_times"], strict=True)),
        ) for row in rows]

    # periodic jobs ---------------------------------------------------------------------

    async def database_now(self, conn: Connectable) -> datetime:
        now: datetime = await conn.fetchval(self._sql["database_now"])
        return now

    async def claim_cron_slots(self, conn: Connectable, *, workers: Sequence[str],
                               slots: Sequence[datetime]) -> list[tuple[str, datetime]]:
        rows = await conn.fetch(self._sql["claim_cron_slots"], list(workers), list(slots))
        return [(row["worker"], row["slot"]) for row in rows]

    async def record_cron_jobs(self, conn: Connectable, *, workers: Sequence[str],
                               slots: Sequence[datetime], job_ids: Sequence[int]) -> None:
        await conn.execute(self._sql["record_cron_jobs"], list(workers), list(slots),
                           list(job_ids))

    async def last_cron_slot(self, conn: Connectable, *, worker: str) -> datetime | None:
        last: datetime | None = await conn.fetchval(self._sql["last_cron_slot"], worker)
        return last

    async def prune_cron_slots(self, conn: Connectable, *, older_than: float) -> None:
        await conn.execute(self._sql["prune_cron_slots"], older_than)

    async def repair_workflows(self, conn: Connectable, *, settled_for: float) -> int:
        repaired: int = await conn.fetchval(self._sql["repair_workflows"], settled_for)
        return repaired

    async def prune_workflows(self, conn: Connectable) -> int:
        pruned: int = await conn.fetchval(self._sql["prune_workflows"])
        return pruned
