"""The Waitpoint instance: a pool, the node's notifier, producers and periodic duties."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal, Unpack, overload

import asyncpg
import structlog

from . import _current, codec
from ._cron import CronScheduler
from ._database import resolve_database_url_async
from ._duties import DepthSampler, Heartbeat, Leader, Lifeline, Pruner, Stager
from ._execution import JobRuntime
from ._job import Job, JobState
from ._logging import configure_logging
from ._loop import PeriodicDuty
from ._metrics import SIGNALS_SENT
from ._names import check_name
from ._notifier import Notifier
from ._producer import Producer
from ._query import ProducerBeat, Query, QueueDepth, QueueView, TableStats
from ._settings import Settings, SettingsFields
from ._signals import check_key
from ._workflow import Workflow, WorkflowStatus, insert_workflow
from .inspect import Inspector, JobFilter
from .schema import ENGINE_TRACK, ensure_current, migrate
from .sql import Connectable, pool_options

log = structlog.get_logger("waitpoint")


def _default_node() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class Waitpoint:
    """A connection to the job engine; with queues, also a worker node.

    >>> async with Waitpoint(queues={"default": 10, "approvals": 5}) as wp:
    ...     job = await wp.enqueue(ApprovalWorker.new({"user_id": 1}))
    ...     await wp.signal(job.id, {"decision": "approved"})

    database_url: explicit URL, else DATABASE_URL, else an embedded PostgreSQL.
    settings: a Settings (see its fields: queues, schema, intervals, ...), and any of its
        fields as keywords on top: `Waitpoint(settings=Settings.from_env(), queues={})`.
    """

    def __init__(self, database_url: str | None = None, *, settings: Settings | None = None,
                 **overrides: Unpack[SettingsFields]) -> None:
        self.settings = (settings or Settings()).replace(**overrides)
        self.query = Query(self.settings.schema)
        self.inspect = Inspector(self.query)
        """The read model: jobs, waits, workflows and depth, paged (waitpoint.inspect)."""
        self.schema = self.settings.schema
        self.node = self.settings.node or _default_node()
        self.queue_limits = dict(self.settings.queues)
        self.stopping = False
        self._database_url = database_url
        self._pool: asyncpg.Pool | None = None
        self._cycle_pool: asyncpg.Pool | None = None
        self._notifier: Notifier | None = None
        self._leader: Leader | None = None
        self._duties: list[PeriodicDuty] = []
        self._control_tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: Heartbeat | None = None
        self.producers: dict[str, Producer] = {}

    @classmethod
    def client(cls, database_url: str | None = None, *, schema: str = "waitpoint") -> Waitpoint:
        """An instance that inserts, signals and inspects: no queues, no leadership."""
        return cls(database_url, queues={}, schema=schema, peer=False)

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
        settings = self.settings
        self._database_url = await resolve_database_url_async(self._database_url)
        pool = self._pool = await asyncpg.create_pool(
            self._database_url, min_size=1, max_size=settings.pool_size,
            server_settings={"application_name": f"waitpoint:{self.node}"},
            **self._pool_options(),
        )
        try:
            if settings.migrate:  # a session (advisory lock): never through a pooler
                direct = await asyncpg.connect(self._listen_url())
                try:
                    await migrate(direct, self.schema)
                finally:
                    await direct.close()
            else:
                async with pool.acquire() as conn:
                    await ensure_current(conn, self.schema, [ENGINE_TRACK])
            if self.queue_limits:
                await self._start_node(pool)
            if settings.peer:
                await self._start_leadership(pool)
        except BaseException:
            for opened in (self._cycle_pool, self._pool):
                if opened is not None:
                    await opened.close()
            self._pool = self._cycle_pool = None
            raise
        _current.register(self)
        log.info("waitpoint.started", node=self.node, schema=self.schema,
                 queues=self.queue_limits, leader=self.is_leader)

    def _pool_options(self) -> dict[str, Any]:
        """Behind a transaction-mode pooler, consecutive statements may run on different
        server connections: no named prepared statements (asyncpg's cache)."""
        pooler = {"statement_cache_size": 0} if self.settings.pooler else {}
        return {**pool_options(), **pooler}

    def _listen_url(self) -> str:
        """Where LISTEN and migrations connect: they need a session of their own."""
        url = self.settings.listen_url or self._database_url
        assert url is not None
        return url

    async def _start_node(self, pool: asyncpg.Pool) -> None:
        """The producers, their LISTEN connection and their heartbeat."""
        settings = self.settings
        assert self._database_url is not None
        session = {"application_name": f"waitpoint:{self.node}:producers"}
        if not settings.pooler:  # a pooler refuses (or drops) other startup settings
            session["synchronous_commit"] = "on" if settings.synchronous_acks else "off"
        self._cycle_pool = await asyncpg.create_pool(
            self._database_url, min_size=1, max_size=len(self.queue_limits),
            server_settings=session, **self._pool_options(),
        )
        notifier = self._notifier = Notifier(
            self._listen_url(),
            {
                self.query.channel("jobs"): self._on_jobs_available,
                self.query.channel("signals"): self._on_signals,
                self.query.channel("cancel"): self._on_cancel,
                self.query.channel("control"): self._on_control,
            },
            on_reconnect=self._wake_producers,
        )
        runtime = JobRuntime(pool=pool, query=self.query, notifier=notifier,
                             is_stopping=lambda: self.stopping)
        for queue, limit in self.queue_limits.items():
            self.producers[queue] = Producer(
                query=self.query, cycle_pool=self._cycle_pool, runtime=runtime, node=self.node,
                queue=queue, limit=limit, poll_interval=settings.poll_interval)
        await notifier.start()
        for producer in self.producers.values():  # as told before this node started
            producer.apply_control(await self.query.queue_control(
                pool, queue=producer.queue, node=self.node))
        self._heartbeat = Heartbeat(pool=pool, query=self.query,
                                    interval=settings.heartbeat_interval,
                                    producers=self._producer_beats)
        await self._heartbeat.run_once()
        self._heartbeat.start()
        for producer in self.producers.values():
            producer.start()

    async def _start_leadership(self, pool: asyncpg.Pool) -> None:
        settings = self.settings
        self._leader = Leader(pool=pool, query=self.query, node=self.node,
                              interval=settings.leader_interval,
                              on_elected=self._kick_leader_duties)

        def is_leader() -> bool:
            return self.is_leader

        self._duties = [
            Stager(pool=pool, query=self.query, is_leader=is_leader,
                   interval=settings.stage_interval),
            Lifeline(pool=pool, query=self.query, is_leader=is_leader,
                     interval=settings.rescue_interval, rescue_after=settings.rescue_after,
                     workflow_repair_after=settings.workflow_repair_after),
            Pruner(pool=pool, query=self.query, is_leader=is_leader,
                   interval=settings.prune_interval, prune_after=settings.prune_after),
            CronScheduler(pool=pool, query=self.query, is_leader=is_leader,
                          interval=settings.cron_interval),
            DepthSampler(pool=pool, query=self.query, is_leader=is_leader,
                         interval=settings.metrics_interval),
        ]
        await self._leader.run_once()
        self._leader.start()
        for duty in self._duties:
            duty.start()

    def _producer_beats(self) -> list[ProducerBeat]:
        return [ProducerBeat(p.uuid, self.node, p.queue, p.limit, p.paused, len(p.running))
                for p in self.producers.values()]

    async def stop(self) -> None:
        """Graceful shutdown: stop fetching, let running jobs finish within the grace
        period, commit their acks, and leave interrupted jobs for the lifeline."""
        if self._pool is None:
            return
        self.stopping = True
        _current.unregister(self)
        for producer in self.producers.values():
            producer.stop_fetching()
        if self._notifier is not None:
            self._notifier.wake_all()  # live waiters snooze now instead of at their timeout
        await asyncio.gather(*(p.stop(self.settings.shutdown_grace)
                               for p in self.producers.values()))
        for duty in self._duties:
            await duty.stop()
        if self._heartbeat is not None:
            await self._heartbeat.stop()
        if self._leader is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._leader.stop()
        if self.producers:
            # Jobs interrupted past the grace period go back to the queue now, for any
            # node (a crash leaves them to the lifeline, after rescue_after).
            uuids = [p.uuid for p in self.producers.values()]
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                released = await self.query.release_jobs(self.pool, uuids)
                if released:
                    log.warning("waitpoint.released_jobs", jobs=[r.id for r in released],
                                hint="interrupted by the shutdown: they run again")
                await self.query.delete_producers(self.pool, uuids)
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

    def _on_control(self, queue: str) -> None:
        producer = self.producers.get(queue)
        if producer is not None and self._pool is not None:
            task = asyncio.create_task(self._reload_control(producer))
            self._control_tasks.add(task)
            task.add_done_callback(self._control_tasks.discard)

    async def _reload_control(self, producer: Producer) -> None:
        try:
            producer.apply_control(await self.query.queue_control(
                self.pool, queue=producer.queue, node=self.node))
        except Exception as error:  # the database going away: read again on the next notice
            log.warning("queue.control_unread", queue=producer.queue,
                        error=f"{type(error).__name__}: {error}")

    # queue controls ----------------------------------------------------------------------

    async def pause_queue(self, queue: str, node: str | None = None) -> None:
        """Stop claiming jobs of `queue` on every node, or on `node`; running jobs finish.
        Kept in the database: a node that restarts stays paused."""
        await self.query.control_queue(self.pool, queue=queue, node=node, paused=True,
                                       limit=None)

    async def resume_queue(self, queue: str, node: str | None = None) -> None:
        await self.query.control_queue(self.pool, queue=queue, node=node, paused=False,
                                       limit=None)

    async def scale_queue(self, queue: str, limit: int, node: str | None = None) -> None:
        """Run up to `limit` jobs of `queue` at once on every node, or on `node`."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit: an integer of at least 1, got {limit!r}")
        await self.query.control_queue(self.pool, queue=queue, node=node, paused=None,
                                       limit=limit)

    async def queue_depth(self, *, conn: Connectable | None = None) -> QueueDepth:
        """Unfinished jobs per queue and state, and the waits, counted now: the leader's
        depth sample (every metrics_interval) taken on demand. An index scan of every
        unfinished job, so a page that refreshes itself reads the leader's sample instead
        (tables queue_samples and wait_samples) and calls this only when it is stale."""
        counted = await self.inspect.count_depth(conn or self.pool)
        return QueueDepth([(queue, str(state), jobs) for queue, state, jobs in counted.queues],
                          counted.waits)

    async def table_stats(self) -> list[TableStats]:
        """Every table of the schema: estimated rows, size with indexes, oldest row."""
        return await self.inspect.table_stats(self.pool)

    async def list_queues(self) -> list[QueueView]:
        """Every live producer: node, queue, limit, running, paused, available jobs."""
        return await self.inspect.queues(self.pool, alive_within=self.settings.rescue_after)

    def _wake_producers(self) -> None:
        for producer in self.producers.values():
            producer.wake()

    def _kick_leader_duties(self) -> None:
        for duty in self._duties:
            duty.kick()

    # jobs ----------------------------------------------------------------------------------

    async def enqueue(self, job: Job, *, conn: Connectable | None = None) -> Job:
        """Insert one job; pass `conn` to insert inside your own transaction."""
        (inserted,) = await self.enqueue_many([job], conn=conn)
        return inserted

    @overload
    async def enqueue_many(self, jobs: Sequence[Job] | Workflow, *,
                           conn: Connectable | None = None,
                           ids_only: Literal[False] = False) -> list[Job]: ...

    @overload
    async def enqueue_many(self, jobs: Sequence[Job] | Workflow, *,
                           conn: Connectable | None = None,
                           ids_only: Literal[True]) -> list[int]: ...

    async def enqueue_many(self, jobs: Sequence[Job] | Workflow, *,
                           conn: Connectable | None = None,
                           ids_only: bool = False) -> list[Job] | list[int]:
        """Insert many jobs in one round trip; returns them with ids, in input order (or
        only the ids with `ids_only=True`: no Job built per row, for bulk loads).

        A Workflow is inserted whole, in one transaction. A unique workflow whose name is
        still running inserts nothing and returns its jobs with extra["conflicted"] = True.
        """
        if isinstance(jobs, Workflow):
            if conn is not None:
                inserted = await insert_workflow(self.query, self.pool, jobs, conn)
            else:
                async with self.pool.acquire() as acquired, acquired.transaction():
                    inserted = await insert_workflow(self.query, self.pool, jobs, acquired)
            return [job.id for job in inserted if job.id is not None] if ids_only else inserted
        if not jobs:
            return []
        rows = await self.query.insert_jobs(conn or self.pool, jobs)
        if ids_only:
            return [row[0] for row in rows]
        return [job.as_inserted(row) for row, job in zip(rows, jobs, strict=True)]

    async def get_job(self, job_id: int) -> Job | None:
        return await self.query.get_job(self.pool, job_id)

    async def list_jobs(self, state: JobState | str | None = None, queue: str | None = None,
                        limit: int = 50) -> list[Job]:
        """The newest `limit` jobs, in `state` and `queue` when given (see `inspect` for
        pages and more filters)."""
        where = JobFilter(state=None if state is None else JobState(state), queue=queue)
        page = await self.inspect.list_jobs(self.pool, where=where, size=limit)
        return page.rows

    async def cancel_job(self, job: Job | int) -> bool:
        """Cancel a job that has not finished; a running one is asked to stop (cooperative)."""
        return await self.query.cancel_job(self.pool, _job_id(job))

    async def retry_job(self, job: Job | int) -> Job | None:
        return await self.query.retry_job(self.pool, _job_id(job))

    async def resume_job(self, job: Job | int) -> Job | None:
        """Make a suspended job available; returns None when it was not suspended."""
        return await self.query.resume_job(self.pool, _job_id(job))

    # signals -------------------------------------------------------------------------------

    async def signal(
        self,
        job_ids: int | Sequence[int] | None = None,
        payload: Any = None,
        *,
        key: str | None = None,
        keep_for: float | timedelta | None = None,
        source: str | None = None,
        conn: Connectable | None = None,
        name: str | None = None,
    ) -> list[int]:
        """Deliver a payload to jobs by id, or to the jobs waiting on a correlation key.

        Returns the ids reached. A keyed signal that reaches nobody is kept (for
        `keep_for`, default forever) for the first job that awaits the key. A `name`
        (job ids only) is for `await_signal(name=...)`; unnamed signals go to unnamed
        waits.
        """
        if (job_ids is None) == (key is None):
            raise ValueError("signal: give job ids or key=..., not both and not neither")
        if name is not None:
            check_name(name)
            if key is not None:
                raise ValueError("signal: a name goes with job ids, not with a key")
        encoded = codec.encode(payload)
        executor = conn or self.pool
        if key is not None:
            check_key(key)
            seconds = keep_for.total_seconds() if isinstance(keep_for, timedelta) else keep_for
            reached = await self.query.signal_key(executor, key=key, payload=encoded,
                                                  source=source, keep_for=seconds)
            SIGNALS_SENT.inc(len(reached))
            return reached
        ids = [job_ids] if isinstance(job_ids, int) else list(job_ids or [])
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise TypeError("signal: job ids must be integers")
        reached = await self.query.signal_jobs(executor, job_ids=ids, payload=encoded,
                                               source=source, name=name)
        SIGNALS_SENT.inc(len(reached))
        return reached

    # workflows ----------------------------------------------------------------------------

    async def signal_workflow(self, workflow_id: int, names: str | Sequence[str],
                              payload: Any, *, source: str | None = None) -> list[int]:
        """Signal workflow steps by name or sub-workflow path, without the Workflow object."""
        steps = [names] if isinstance(names, str) else list(names)
        return await self.query.signal_workflow(self.pool, workflow_id=workflow_id, steps=steps,
                                                payload=codec.encode(payload), source=source)

    async def broadcast_workflow(self, workflow_id: int, name: str, payload: Any = None, *,
                                 propagate: bool = True, source: str | None = None,
                                 conn: Connectable | None = None) -> list[int]:
        """Set workflow `workflow_id`'s signal `name` (latest wins), and with `propagate`
        its sub-workflows' and parents' (see Workflow.broadcast). Returns the workflows
        reached: empty when there is no such workflow."""
        return await self.query.broadcast_workflow_signal(
            conn or self.pool, workflow_id=workflow_id, name=check_name(name),
            payload=codec.encode(payload), source=source, propagate=propagate)

    async def workflow_signal(self, workflow_id: int, name: str) -> Any:
        """The latest value of a workflow's named signal, None if it was never set."""
        found = await self.query.peek_workflow_signal(self.pool, workflow_id=workflow_id,
                                                      name=check_name(name))
        return None if found is None else codec.decode(found[0])

    async def workflow_status(self, workflow_id: int) -> WorkflowStatus:
        return await self.inspect.workflow_status(self.pool, workflow_id)


def _job_id(job: Job | int) -> int:
    if isinstance(job, Job):
        if job.id is None:
            raise ValueError("job has no id: it was never inserted")
        return job.id
    return int(job)
