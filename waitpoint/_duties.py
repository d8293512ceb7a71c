"""The periodic duties: leadership, staging, rescuing and pruning.

Only the elected leader stages, rescues and prunes, so N nodes do each duty once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ._loop import PeriodicDuty

if TYPE_CHECKING:
    from ._instance import Waitpoint

log = structlog.get_logger("waitpoint")


class Leader(PeriodicDuty):
    """Holds (or takes over) leadership through a row that expires unless refreshed."""

    name = "leader"

    def __init__(self, instance: Waitpoint, interval: float) -> None:
        super().__init__(interval)
        self.instance = instance
        self.is_leader = False

    async def run_once(self) -> None:
        holder = await self.instance.pool.fetchval(
            self.instance.queries.elect_leader, "waitpoint", self.instance.node, self.interval * 3
        )
        was_leader, self.is_leader = self.is_leader, holder == self.instance.node
        if self.is_leader and not was_leader:
            log.info("leader.elected", node=self.instance.node)
            self.instance.kick_leader_duties()

    async def stop(self) -> None:
        await super().stop()
        if self.is_leader:
            self.is_leader = False
            await self.instance.pool.execute(
                self.instance.queries.resign_leader, "waitpoint", self.instance.node
            )


class _LeaderDuty(PeriodicDuty):
    def __init__(self, instance: Waitpoint, interval: float) -> None:
        super().__init__(interval)
        self.instance = instance

    async def run_once(self) -> None:
        if self.instance.is_leader:
            await self.run_as_leader()

    async def run_as_leader(self) -> None:
        raise NotImplementedError


class Stager(_LeaderDuty):
    """Due scheduled/retryable jobs become available; the jobs trigger wakes producers."""

    name = "stager"
    batch = 5000

    async def run_as_leader(self) -> None:
        await self.instance.pool.execute(self.instance.queries.stage_jobs, self.batch)


class Lifeline(_LeaderDuty):
    """Rescues jobs left executing by producers that stopped heartbeating, and workflow
    steps whose dependencies finished long ago but which were never released."""

    name = "lifeline"

    async def run_as_leader(self) -> None:
        rows = await self.instance.pool.fetch(
            self.instance.queries.rescue_jobs, self.instance.rescue_after
        )
        if rows:
            log.warning("lifeline.rescued", jobs=[r["id"] for r in rows],
                        discarded=[r["id"] for r in rows if r["state"] == "discarded"])
        repaired = await self.instance.pool.fetchval(
            self.instance.queries.repair_workflows, self.instance.workflow_repair_after)
        if repaired:
            log.warning("lifeline.repaired_workflow_steps", steps=repaired)


class Pruner(_LeaderDuty):
    """Deletes finished jobs (and used signals) older than prune_after."""

    name = "pruner"
    batch = 10_000

    async def run_as_leader(self) -> None:
        row = await self.instance.pool.fetchrow(
            self.instance.queries.prune_jobs, self.instance.prune_after, self.batch
        )
        workflows = await self.instance.pool.execute(self.instance.queries.prune_workflows)
        pruned_workflows = int(workflows.split()[-1])
        if row["jobs"] or row["signals"] or pruned_workflows:
            log.info("pruner.pruned", jobs=row["jobs"], signals=row["signals"],
                     workflows=pruned_workflows)


class Heartbeat(PeriodicDuty):
    """Tells the lifeline this node's producers are alive."""

    name = "heartbeat"

    def __init__(self, instance: Waitpoint, interval: float) -> None:
        super().__init__(interval)
        self.instance = instance

    async def run_once(self) -> None:
        producers = self.instance.producers.values()
        if producers:
            await self.instance.pool.execute(
                self.instance.queries.heartbeat_producers,
                [p.uuid for p in producers],
                [self.instance.node] * len(producers),
                [p.queue for p in producers],
                [p.limit for p in producers],
            )
