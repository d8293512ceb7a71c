"""One producer per queue: fetches up to its limit and runs each job in its own task.

The producer also commits the outcomes of its jobs: acks wait in memory for the next
cycle and go out in the same statement as the next fetch (ack_and_fetch_jobs.sql), so a
busy queue costs one round trip and one commit per batch of jobs. Waits entered for a
signal (SnoozeAck) go out in the same transaction (snooze_jobs.sql). An outcome that is
lost with the process leaves its job executing, and the lifeline runs it again (memoized
awaits make a re-run of a waiting job safe).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import structlog

from ._ack import Ack, SnoozeAck
from ._aio import wait_event
from ._execution import JobRuntime
from ._job import Job
from ._query import Query, QueueControl
from ._runner import run_job
from .retry import Backoff, retry
from .supervise import supervised

log = structlog.get_logger("waitpoint.producer")

DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                   asyncpg.InternalClientError)
"""What a cycle may raise when the database goes away: a restart or failover terminates
every backend, and asyncpg reports a statement cut in the middle as InternalClientError."""


class Producer:
    """Claims jobs of one queue for one node and runs them with `runtime`.

    `cycle_pool` carries the claim-and-ack statements (synchronous_commit off unless the
    instance asks for durable acks); `runtime` is what the running jobs use.
    """

    def __init__(self, *, query: Query, cycle_pool: asyncpg.Pool, runtime: JobRuntime,
                 node: str, queue: str, limit: int, poll_interval: float) -> None:
        if limit < 1:
            raise ValueError(f"queues: limit of {queue!r} must be at least 1, got {limit}")
        self.query = query
        self.cycle_pool = cycle_pool
        self.runtime = runtime
        self.node = node
        self.queue = queue
        self.limit = limit
        self.configured_limit = limit
        self.paused = False
        self.wakes = 0
        """Loop iterations: lets a test see that a paused producer looked and took nothing."""
        self.uuid = uuid.uuid4()
        self.poll_interval = poll_interval
        self.running: dict[int, tuple[Job, asyncio.Task[None]]] = {}
        self._acks: list[Ack] = []
        self._snoozes: list[SnoozeAck] = []
        self._fetching = True
        self._closing = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(supervised(f"producer {self.queue}", self._run),
                                         name=f"waitpoint-producer-{self.queue}")

    def wake(self) -> None:
        self._wake.set()

    def apply_control(self, control: QueueControl) -> None:
        """What the queue was told (pause_queue, scale_queue): running jobs finish; a
        paused producer still commits their outcomes but claims nothing."""
        paused = bool(control.paused)
        limit = control.limit or self.configured_limit
        if (paused, limit) != (self.paused, self.limit):
            log.info("queue.controlled", queue=self.queue, node=self.node, paused=paused,
                     limit=limit)
        self.paused, self.limit = paused, limit
        self._wake.set()

    def request_cancel(self, job_id: int) -> None:
        entry = self.running.get(job_id)
        if entry is not None and entry[0]._cancel_requested is not None:
            entry[0]._cancel_requested.set()
            self.runtime.notifier.wake_waiters(str(job_id))

    def stop_fetching(self) -> None:
        """Claim no more jobs; outcomes of running jobs are still committed."""
        self._fetching = False
        self._wake.set()

    async def stop(self, grace: float) -> None:
        """Stop fetching; let running jobs finish within `grace`; interrupt the rest
        (they stay executing for the lifeline); commit every outcome we hold."""
        self.stop_fetching()
        tasks = [task for _, task in self.running.values()]
        if tasks:
            _, still_running = await asyncio.wait(tasks, timeout=grace)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
        await self._flush_remaining_acks(timeout=10.0)

    async def _flush_remaining_acks(self, timeout: float) -> None:
        if not self._acks and not self._snoozes:
            return
        try:
            await retry(lambda: self._cycle(demand=0), retry_on=DATABASE_ERRORS,
                        within=timeout, backoff=Backoff(initial=0.2, maximum=0.2))
        except DATABASE_ERRORS as error:
            log.error("producer.unacked", queue=self.queue,
                      jobs=[a.job_id for a in self._acks] + [s.job_id for s in self._snoozes],
                      error=str(error),
                      hint="these jobs stay executing; the lifeline will run them again")

    async def _run(self) -> None:
        backoff = Backoff(initial=0.05, maximum=5.0)
        while not self._closing:
            self._wake.clear()
            self.wakes += 1
            fetching = self._fetching and not self.paused
            demand = self.limit - len(self.running) if fetching else 0
            if demand > 0 or self._acks or self._snoozes:
                try:
                    await self._cycle(demand)
                    backoff.reset()
                except Exception as error:  # the database, or a bug: retried, never fatal
                    log.warning("producer.fetch_failed", queue=self.queue,
                                error=f"{type(error).__name__}: {error}",
                                retry_in=backoff.delay)
                    await backoff.wait()
                    continue
            if self._acks or self._snoozes:
                continue  # jobs finished while we were fetching
            await wait_event(self._wake, self.poll_interval)

    async def _cycle(self, demand: int) -> None:
        acks, self._acks = self._acks, []
        snoozes, self._snoozes = self._snoozes, []
        try:
            if snoozes:
                async with self.cycle_pool.acquire() as conn, conn.transaction():
                    await self.query.snooze_jobs(conn, snoozes=snoozes)
                    jobs = await self.query.ack_and_fetch_jobs(
                        conn, queue=self.queue, demand=demand, node=self.node,
                        producer=self.uuid, acks=acks)
            else:
                jobs = await self.query.ack_and_fetch_jobs(
                    self.cycle_pool, queue=self.queue, demand=demand, node=self.node,
                    producer=self.uuid, acks=acks)
        except BaseException:
            # Not known to be committed: keep them. Committing twice is harmless, since
            # both only touch a job that is still executing.
            self._acks = acks + self._acks
            self._snoozes = snoozes + self._snoozes
            raise
        for job in jobs:
            self._launch(job)

    def _launch(self, job: Job) -> None:
        assert job.id is not None
        job._cancel_requested = asyncio.Event()
        task = asyncio.create_task(self._execute(job), name=f"waitpoint-job-{job.id}")
        self.running[job.id] = (job, task)

    async def _execute(self, job: Job) -> None:
        assert job.id is not None
        try:
            outcome = await run_job(self.runtime, job)
            if isinstance(outcome, SnoozeAck):
                self._snoozes.append(outcome)
            else:
                self._acks.append(outcome)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a bug of ours must not kill the producer
            log.exception("producer.execute_failed", id=job.id, error=str(error))
        finally:
            self.running.pop(job.id, None)
            self._wake.set()
