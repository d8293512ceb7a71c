"""The Waitpoint instance: a pool, the node's notifier, producers and periodic duties."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from . import _codec
from ._database import resolve_database_url_async
from ._duties import Heartbeat, Leader, Lifeline, Pruner, Stager
from ._errors import NoInstanceError
from ._job import Job
from ._logging import configure_logging
from ._migrate import ensure_current, migrate
from ._notifier import Notifier
from ._producer import Producer
from ._queries import queries_for
from ._workflow import Workflow, WorkflowStatus, insert_workflow, status_from_rows

log = structlog.get_logger("waitpoint")

_running: list[Waitpoint] = []

Executor = asyncpg.Connection | asyncpg.Pool


def current_instance(action: str) -> Waitpoint:
    """The most recently started instance of this process."""
    if not _running:
        raise NoInstanceError(action)
    return _running[-1]


def _default_node() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class Waitpoint:
    """A connection to the job engine; with queues, also a worker node.

    >>> async with Waitpoint(queues={"default": 10, "approvals": 5}) as wp:
    ...     job = await wp.enqueue(ApprovalWorker.new({"user_id": 1}))
    ...     await wp.signal(job.id, {"decision": "approved"})

    database_url: explicit URL, else DATABASE_URL, else an embedded PostgreSQL.
    queues: {name: concurrency}; {} inserts, signals and manages without running jobs.
    synchronous_acks: producers claim jobs and record outcomes on a connection with
        synchronous_commit=off by default: a database crash may forget the last moments
        of outcomes, and those jobs run again (at-least-once, as after a worker crash);
        it saves one disk flush per batch. Inserts, signals and signal consumption are
        always fully durable. True makes claims and outcomes durable too.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        queues: dict[str, int] | None = None,
        schema: str = "waitpoint",
        node: str | None = None,
        migrate: bool = False,
        pool_size: int = 10,
        poll_interval: float = 1.0,
        stage_interval: float = 1.0,
        heartbeat_interval: float = 5.0,
        rescue_after: float = 60.0,
        workflow_repair_after: float = 60.0,
        rescue_interval: float = 30.0,
        prune_after: float = 86_400.0,
        prune_interval: float = 60.0,
        leader_interval: float = 5.0,
        shutdown_grace: float = 15.0,
        peer: bool = True,
        synchronous_acks: bool = False,
    ) -> None:
        self.queries = queries_for(schema)
        self.schema = schema
        self.node = node or _default_node()
        self.queue_limits = {"default": 10} if queues is None else dict(queues)
        self.rescue_after = rescue_after
        self.workflow_repair_after = workflow_repair_after
        self.prune_after = prune_after
        self.shutdown_grace = shutdown_grace
        self.stopping = False
        self._database_url = database_url
        self._migrate = migrate
        self._pool_size = pool_size
        self._poll_interval = poll_interval
        self._pool: asyncpg.Pool | None = None
        self._cycle_pool: asyncpg.Pool | None = None
        self._synchronous_acks = synchronous_acks
        self._notifier: Notifier | None = None
        self.producers: dict[str, Producer] = {}
        self._leader = Leader(self, leader_interval) if peer else None
        self._duties = [Stager(self, stage_interval), Lifeline(self, rescue_interval),
                        Pruner(self, prune_interval)] if peer else []
        self._heartbeat = Heartbeat(self, heartbeat_interval)

    # lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Waitpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("this Waitpoint instance is not started: use `async with`")
        return self._pool

    @property
    def cycle_pool(self) -> asyncpg.Pool:
        """Connections for the producers' claim-and-ack statements."""
        return self._cycle_pool or self.pool

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            raise RuntimeError("this Waitpoint instance is not started")
        return self._database_url

    @property
    def is_leader(self) -> bool:
        return self._leader is not None and self._leader.is_leader

    async def start(self) -> None:
        configure_logging()
        self._database_url = await resolve_database_url_async(self._database_url)
        self._pool = await asyncpg.create_pool(
            self._database_url, min_size=1, max_size=self._pool_size,
            server_settings={"application_name": f"waitpoint:{self.node}"},
        )
        try:
            async with self._pool.acquire() as conn:
                if self._migrate:
                    await migrate(conn, self.schema)
                else:
                    await ensure_current(conn, self.schema)
            for queue, limit in self.queue_limits.items():
                self.producers[queue] = Producer(self, queue, limit, self._poll_interval)
            if self.producers:
                self._cycle_pool = await asyncpg.create_pool(
                    self._database_url, min_size=1, max_size=len(self.producers),
                    server_settings={
                        "application_name": f"waitpoint:{self.node}:producers",
                        "synchronous_commit": "on" if self._synchronous_acks else "off",
                    },
                )
                self._notifier = Notifier(
                    self._database_url,
                    {
                        self.queries.channel("jobs"): self._on_jobs_available,
                        self.queries.channel("signals"): self._on_signals,
                        self.queries.channel("cancel"): self._on_cancel,
                    },
                    on_reconnect=self._wake_producers,
                )
                await self._notifier.start()
                await self._heartbeat.run_once()
                self._heartbeat.start()
                for producer in self.producers.values():
                    producer.start()
            if self._leader is not None:
                await self._leader.run_once()
                self._leader.start()
                for duty in self._duties:
                    duty.start()
        except BaseException:
            for pool in (self._cycle_pool, self._pool):
                if pool is not None:
                    await pool.close()
            self._pool = self._cycle_pool = None
            raise
        _running.append(self)
        log.info("waitpoint.started", node=self.node, schema=self.schema,
                 queues=self.queue_limits, leader=self.is_leader)

    async def stop(self) -> None:
        """Graceful shutdown: stop fetching, let running jobs finish within the grace
        period, commit their acks, and leave interrupted jobs for the lifeline."""
        if self._pool is None:
            return
        self.stopping = True
        if self in _running:
            _running.remove(self)
        for producer in self.producers.values():
            producer.stop_fetching()
        if self._notifier is not None:
            self._notifier.wake_all()  # live waiters snooze now instead of at their timeout
        await asyncio.gather(*(p.stop(self.shutdown_grace) for p in self.producers.values()))
        for duty in [*self._duties, self._heartbeat]:
            await duty.stop()
        if self._leader is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._leader.stop()
        if self.producers:
            # Without our heartbeat rows, jobs we interrupted are rescued at once.
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self.pool.execute(self.queries.delete_producers,
                                        [p.uuid for p in self.producers.values()])
        if self._notifier is not None:
            await self._notifier.stop()
        if self._cycle_pool is not None:
            await self._cycle_pool.close()
            self._cycle_pool = None
        await self._pool.close()
        self._pool = None
        log.info("waitpoint.stopped", node=self.node)

    # notifications -------------------------------------------------------------------------

    def _on_jobs_available(self, queue: str) -> None:
        producer = self.producers.get(queue)
        if producer is not None:
            producer.wake()

    def _on_signals(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.wake_waiters(message)

    def _on_cancel(self, message: str) -> None:
        job_id = int(message)
        for producer in self.producers.values():
            producer.request_cancel(job_id)

    def _wake_producers(self) -> None:
        for producer in self.producers.values():
            producer.wake()

    def kick_leader_duties(self) -> None:
        for duty in self._duties:
            duty.kick()

    @contextlib.contextmanager
    def notifier_waiter(self, job_id: int) -> Iterator[asyncio.Event]:
        if self._notifier is None:
            raise RuntimeError("await_signal needs an instance running queues")
        with self._notifier.waiter(job_id) as event:
            yield event

    def wake_waiter(self, job_id: int) -> None:
        if self._notifier is not None:
            self._notifier.wake_waiters(str(job_id))

    # jobs ----------------------------------------------------------------------------------

    async def enqueue(self, job: Job, *, conn: Executor | None = None) -> Job:
        """Insert one job; pass `conn` to insert inside your own transaction."""
        (inserted,) = await self.enqueue_many([job], conn=conn)
        return inserted

    async def enqueue_many(self, jobs: Sequence[Job] | Workflow, *,
                           conn: Executor | None = None) -> list[Job]:
        """Insert many jobs in one round trip; returns them with ids, in input order.

        A Workflow is inserted whole, in one transaction. A unique workflow whose name is
        still running inserts nothing and returns its jobs with extra["conflicted"] = True.
        """
        if isinstance(jobs, Workflow):
            if conn is not None:
                return await insert_workflow(self, jobs, conn)
            async with self.pool.acquire() as acquired, acquired.transaction():
                return await insert_workflow(self, jobs, acquired)
        if not jobs:
            return []
        payload = json.dumps([job.insert_fields() for job in jobs])
        records = await (conn or self.pool).fetch(self.queries.insert_jobs, payload)
        pairs = zip(records, jobs, strict=True)
        return [Job.from_record(record, job.extra) for record, job in pairs]

    async def get_job(self, job_id: int) -> Job | None:
        record = await self.pool.fetchrow(self.queries.get_job, job_id)
        return None if record is None else Job.from_record(record)

    async def list_jobs(self, state: str | None = None, queue: str | None = None,
                        limit: int = 50) -> list[Job]:
        records = await self.pool.fetch(self.queries.list_jobs, state, queue, limit)
        return [Job.from_record(record) for record in records]

    async def cancel_job(self, job: Job | int) -> bool:
        """Cancel a job that has not finished; a running one is asked to stop (cooperative)."""
        row = await self.pool.fetchrow(self.queries.cancel_job, _job_id(job))
        return row is not None

    async def retry_job(self, job: Job | int) -> Job | None:
        record = await self.pool.fetchrow(self.queries.retry_job, _job_id(job))
        return None if record is None else Job.from_record(record)

    async def resume_job(self, job: Job | int) -> Job | None:
        """Make a suspended job available; returns None when it was not suspended."""
        record = await self.pool.fetchrow(self.queries.resume_job, _job_id(job))
        return None if record is None else Job.from_record(record)

    # signals -------------------------------------------------------------------------------

    async def signal(
        self,
        job_ids: int | Sequence[int] | None = None,
        payload: Any = None,
        *,
        key: str | None = None,
        keep_for: float | timedelta | None = None,
        source: str | None = None,
        conn: Executor | None = None,
    ) -> list[int]:
        """Deliver a payload to jobs by id, or to the jobs waiting on a correlation key.

        Returns the ids reached. A keyed signal that reaches nobody is kept (for
        `keep_for`, default forever) for the first job that awaits the key.
        """
        if (job_ids is None) == (key is None):
            raise ValueError("signal: give job ids or key=..., not both and not neither")
        encoded = _codec.encode(payload)
        executor = conn or self.pool
        if key is not None:
            if not isinstance(key, str) or not key:
                raise ValueError("key: must be a non-empty string")
            seconds = keep_for.total_seconds() if isinstance(keep_for, timedelta) else keep_for
            reached = await executor.fetchval(
                self.queries.signal_key, key, encoded, source,
                seconds if seconds is not None else 10 * 365 * 86_400.0,
            )
        else:
            ids = [job_ids] if isinstance(job_ids, int) else list(job_ids or [])
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise TypeError("signal: job ids must be integers")
            reached = await executor.fetchval(self.queries.signal_jobs, ids, encoded, source)
        return list(reached)


    # workflows ----------------------------------------------------------------------------

    async def signal_workflow(self, workflow_id: int, names: str | Sequence[str],
                              payload: Any, *, source: str | None = None) -> list[int]:
        """Signal workflow steps by name or sub-workflow path, without the Workflow object."""
        steps = [names] if isinstance(names, str) else list(names)
        encoded = _codec.encode(payload)
        reached = await self.pool.fetchval(self.queries.signal_workflow, workflow_id, steps,
                                           encoded, source)
        return list(reached)

    async def workflow_status(self, workflow_id: int) -> WorkflowStatus:
        rows = await self.pool.fetch(self.queries.workflow_status, workflow_id)
        return status_from_rows(rows)


def _job_id(job: Job | int) -> int:
    if isinstance(job, Job):
        if job.id is None:
            raise ValueError("job has no id: it was never inserted")
        return job.id
    return int(job)
