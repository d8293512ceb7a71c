"""Deliveries per minute, source and outcome, and refusals per reason, shared by every
receiver process through one small table the console reads (migration 007).

A request only adds to a dict; a flush every few seconds adds the dict to the table in one
statement. Counts are for people looking at a chart, not records: a process killed with
-9 loses at most its last few seconds of counts, never an event. A flush that fails keeps
its counts for the next one (up to a bound, so an outage cannot grow memory).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import asyncpg
import structlog

from .periodic import Periodic
from .receiver_sql import CountKey, InboxQuery

log = structlog.get_logger("ingest.counts")

FLUSH_INTERVAL = 5.0
KEPT_DAYS = 14
"""How long the per-minute counts are kept: the console shows the last hour and day."""
MAX_KEYS = 50_000
"""Counts kept through a database outage; beyond this the oldest minutes are dropped."""


def _minute() -> int:
    """This minute, as minutes since the epoch (a datetime only when flushed: this runs
    once per request)."""
    return int(time.time() // 60)


class DeliveryCounts:
    def __init__(self, pool: asyncpg.Pool, query: InboxQuery,
                 interval: float = FLUSH_INTERVAL) -> None:
        self.pool = pool
        self.query = query
        self.interval = interval
        self._counts: Counter[CountKey] = Counter()
        self._periodic = Periodic("counts", interval, self.flush)
        self._flushes = 0

    def outcome(self, source: str, outcome: str) -> None:
        self._counts[(_minute(), source, "outcome", outcome)] += 1

    def rejected(self, source: str, reason: str) -> None:
        self._counts[(_minute(), source, "rejected", reason)] += 1

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        """Stop, with a last flush of what was counted."""
        await self._periodic.stop()
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self.flush()

    async def flush(self) -> None:
        """Add what was counted since the last flush to the table."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            await self.query.add_delivery_counts(self.pool, counts)
        except BaseException:
            counts.update(self._counts)
            self._counts = Counter(dict(sorted(counts.items())[-MAX_KEYS:]))
            raise
        self._flushes += 1
        if self._flushes % 720 == 1:  # about hourly at the default interval
            await self.query.prune_delivery_counts(self.pool, older_than=KEPT_DAYS * 86400)
