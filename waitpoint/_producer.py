"""One producer per queue: fetches up to its limit and runs each job in its own task."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

import asyncpg
import structlog

from ._executor import execute
from ._job import Job

if TYPE_CHECKING:
    from ._instance import Waitpoint

log = structlog.get_logger("waitpoint.producer")


class Producer:
    def __init__(self, instance: Waitpoint, queue: str, limit: int, poll_interval: float) -> None:
        if limit < 1:
            raise ValueError(f"queues: limit of {queue!r} must be at least 1, got {limit}")
        self.instance = instance
        self.queue = queue
        self.limit = limit
        self.uuid = uuid.uuid4()
        self.poll_interval = poll_interval
        self.running: dict[int, tuple[Job, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"waitpoint-producer-{self.queue}")

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, job_id: int) -> None:
        entry = self.running.get(job_id)
        if entry is not None and entry[0]._cancel_requested is not None:
            entry[0]._cancel_requested.set()
            self.instance.wake_waiter(job_id)

    async def stop_fetching(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self, grace: float) -> None:
        """Stop fetching; let running jobs finish within `grace`; interrupt the rest."""
        await self.stop_fetching()
        tasks = [task for _, task in self.running.values()]
        if tasks:
            _, still_running = await asyncio.wait(tasks, timeout=grace)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)

    async def _run(self) -> None:
        queries = self.instance.queries
        while True:
            self._wake.clear()
            demand = self.limit - len(self.running)
            if demand > 0:
                try:
                    records = await self.instance.pool.fetch(
                        queries.fetch_jobs, self.queue, demand, self.instance.node, str(self.uuid)
                    )
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    log.warning("producer.fetch_failed", queue=self.queue, error=str(error))
                    records = []
                for record in records:
                    self._launch(Job.from_record(record))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    def _launch(self, job: Job) -> None:
        assert job.id is not None
        job._cancel_requested = asyncio.Event()
        task = asyncio.create_task(self._execute(job), name=f"waitpoint-job-{job.id}")
        self.running[job.id] = (job, task)

    async def _execute(self, job: Job) -> None:
        assert job.id is not None
        try:
            ack = await execute(self.instance, job)
            if ack is not None:
                self.instance.acker.ack(ack)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a bug of ours must not kill the producer
            log.exception("producer.execute_failed", id=job.id, error=str(error))
        finally:
            self.running.pop(job.id, None)
            self._wake.set()
