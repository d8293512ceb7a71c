"""Event retention: a receiver deletes the events past their source's retention, in
batches, so that the inbox holds what the config says and no more.

Every receiver process runs the pass; one at a time does the work (an advisory lock in
prune_events()), the others skip. A pass deletes batches until one comes back short or
its time budget is spent, so a backlog (retention shortened, a receiver down for days)
is worked off over several passes rather than in one long statement.
"""

from __future__ import annotations

import time

import asyncpg
import structlog

import routing

from .periodic import Periodic
from .receiver_sql import InboxQuery

log = structlog.get_logger("ingest.retention")

BATCH = 5000
PASS_BUDGET = 10.0
"""Seconds a pass may spend deleting before it leaves the rest for the next one."""


class EventRetention:
    def __init__(self, pool: asyncpg.Pool, query: InboxQuery, config: routing.RoutingConfig,
                 interval: float = 60.0) -> None:
        self.pool = pool
        self.query = query
        self.config = config
        self.interval = interval
        self._periodic = Periodic("retention", interval, self.run_once, first_at_start=True)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self) -> int:
        """One pass; the number of events deleted."""
        deleted = 0
        started = time.monotonic()
        while time.monotonic() - started < PASS_BUDGET:
            count = await self.query.prune_events(
                self.pool, retentions=self.config.retentions(),
                default=self.config.events_retention, batch=BATCH)
            if count is None:  # another receiver process is at it
                break
            deleted += count
            if count < BATCH:
                break
        forgotten = await self.query.prune_replay_guard(self.pool, batch=BATCH)
        if deleted or forgotten:
            log.info("retention.pruned", events=deleted, replay_keys=forgotten,
                     seconds=round(time.monotonic() - started, 3))
        return deleted
