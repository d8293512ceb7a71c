"""The periodic duties: leadership, staging, rescuing, pruning and heartbeats.

Only the elected leader stages, rescues and prunes, so N nodes do each duty once. Each
duty gets the pool, the statements and the settings it uses, and `is_leader` to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg
import structlog

from ._loop import PeriodicDuty
from ._metrics import OLDEST_WAIT, QUEUE_DEPTH, WAITING
from ._query import ProducerBeat, Query

log = structlog.get_logger("waitpoint")

LEADERSHIP = "waitpoint"
"""The name of the one leadership every node of a schema competes for."""


class Leader(PeriodicDuty):
    """Holds (or takes over) leadership through a row that expires unless refreshed."""

    name = "leader"

    def __init__(self, *, pool: asyncpg.Pool, query: Query, node: str, interval: float,
                 on_elected: Callable[[], None]) -> None:
        super().__init__(interval)
        self.pool = pool
        self.query = query
        self.node = node
        self.on_elected = on_elected
        self.is_leader = False

    async def run_once(self) -> None:
        holder = await self.query.elect_leader(self.pool, name=LEADERSHIP, node=self.node,
                                               ttl=self.interval * 3)
        was_leader, self.is_leader = self.is_leader, holder == self.node
        if self.is_leader and not was_leader:
            log.info("leader.elected", node=self.node)
            self.on_elected()

    async def stop(self) -> None:
        await super().stop()
        if self.is_leader:
            self.is_leader = False
            await self.query.resign_leader(self.pool, name=LEADERSHIP, node=self.node)


class LeaderDuty(PeriodicDuty):
    """A duty that does its work only while this node leads."""

    def __init__(self, *, pool: asyncpg.Pool, query: Query, is_leader: Callable[[], bool],
                 interval: float) -> None:
        super().__init__(interval)
        self.pool = pool
        self.query = query
        self.is_leader = is_leader

    async def run_once(self) -> None:
        if self.is_leader():
            await self.run_as_leader()

    async def run_as_leader(self) -> None:
        raise NotImplementedError


class Stager(LeaderDuty):
    """Due scheduled/retryable jobs become available; the jobs trigger wakes producers."""

    name = "stager"
    batch = 5000

    async def run_as_leader(self) -> None:
        await self.query.stage_jobs(self.pool, limit=self.batch)


class Lifeline(LeaderDuty):
    """Rescues jobs left executing by producers that stopped heartbeating, and workflow
    steps whose dependencies finished long ago but which were never released."""

    name = "lifeline"

    def __init__(self, *, pool: asyncpg.Pool, query: Query, is_leader: Callable[[], bool],
                 interval: float, rescue_after: float, workflow_repair_after: float) -> None:
        super().__init__(pool=pool, query=query, is_leader=is_leader, interval=interval)
        self.rescue_after = rescue_after
        self.workflow_repair_after = workflow_repair_after

    async def run_as_leader(self) -> None:
        rescued = await self.query.rescue_jobs(self.pool, silent_for=self.rescue_after)
        if rescued:
            log.warning("lifeline.rescued", jobs=[r.id for r in rescued],
                        discarded=[r.id for r in rescued if r.state == "discarded"])
        repaired = await self.query.repair_workflows(
            self.pool, settled_for=self.workflow_repair_after)
        if repaired:
            log.warning("lifeline.repaired_workflow_steps", steps=repaired)


class Pruner(LeaderDuty):
    """Deletes finished jobs (and used signals) older than prune_after, then the workflows
    all of whose jobs are gone."""

    name = "pruner"
    batch = 10_000

    def __init__(self, *, pool: asyncpg.Pool, query: Query, is_leader: Callable[[], bool],
                 interval: float, prune_after: float) -> None:
        super().__init__(pool=pool, query=query, is_leader=is_leader, interval=interval)
        self.prune_after = prune_after

    async def run_as_leader(self) -> None:
        pruned = await self.query.prune_jobs(self.pool, older_than=self.prune_after,
                                             limit=self.batch)
        workflows = await self.query.prune_workflows(self.pool)
        if pruned.jobs or pruned.signals or workflows:
            log.info("pruner.pruned", jobs=pruned.jobs, signals=pruned.signals,
                     workflows=workflows)


class DepthSampler(LeaderDuty):
    """Samples queue depth and waiting jobs into the metrics and into the database, where
    every process can read the latest (the leader only)."""

    name = "depth-sampler"

    async def run_as_leader(self) -> None:
        depths = await self.query.sample_queues(self.pool)
        QUEUE_DEPTH.clear()
        for queue, state, count in depths:
            QUEUE_DEPTH.labels(queue, state).set(count)
        waits = await self.query.sample_waits(self.pool)
        WAITING.set(waits.waiting)
        OLDEST_WAIT.set(waits.oldest_seconds or 0)
        await self.query.record_depth_sample(self.pool, depths=depths, waits=waits)


class Heartbeat(PeriodicDuty):
    """Tells the lifeline this node's producers are alive."""

    name = "heartbeat"

    def __init__(self, *, pool: asyncpg.Pool, query: Query, interval: float,
                 producers: Callable[[], Sequence[ProducerBeat]]) -> None:
        super().__init__(interval)
        self.pool = pool
        self.query = query
        self.producers = producers

    async def run_once(self) -> None:
        beats = self.producers()
        if beats:
            await self.query.heartbeat_producers(self.pool, beats)
