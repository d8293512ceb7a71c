"""Periodic jobs: which workers run on a cron schedule, and the leader's duty that inserts
one job per due slot.

A slot is (worker, scheduled time) and is a row of cron_slots, inserted in the same
transaction as its job: two leaders (a failover in the middle of a minute, a restart)
can never insert one slot twice. A slot that fell due while no node led is skipped,
unless the worker asks for `backfill`; a slot that fell due within GRACE seconds before
this node started leading is inserted (its previous leader may have died first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import structlog
from croniter import croniter  # type: ignore[import-untyped]

from ._job import Job
from ._loop import PeriodicDuty
from ._query import Query

log = structlog.get_logger("waitpoint.cron")

REBOOT = "@reboot"
GRACE = 60.0
"""Seconds: a slot this recent is still inserted by a leader that just took over."""
BACKFILL_LIMIT = 1000
"""At most this many missed slots of one worker are back-filled in one pass."""


@dataclass(frozen=True)
class CronEntry:
    worker: str
    expression: str
    timezone: ZoneInfo
    args: dict[str, Any]
    backfill: bool
    options: dict[str, Any] = field(default_factory=dict)

    def slots_between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """Fire times t with after < t <= until, oldest first, in UTC."""
        found: list[datetime] = []
        schedule = croniter(self.expression, after.astimezone(self.timezone))
        while len(found) < limit:
            slot: datetime = schedule.get_next(datetime)
            if slot > until:
                break
            found.append(slot.astimezone(UTC))
        return found


_entries: dict[str, CronEntry] = {}


def register_cron(worker: str, expression: str, *, timezone: str, args: dict[str, Any],
                  backfill: bool, options: dict[str, Any]) -> None:
    """Called by @worker(cron=...) and @job(cron=...): checked here, at import."""
    expression = expression.strip()
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"worker {worker}: unknown time zone {timezone!r}") from None
    if expression != REBOOT and not croniter.is_valid(expression):
        raise ValueError(f"worker {worker}: invalid cron expression {expression!r} (five "
                         "fields, a sixth for seconds, or @hourly, @daily, @weekly, "
                         "@monthly, @yearly, @reboot)")
    _entries[worker] = CronEntry(worker, expression, zone, dict(args), backfill, dict(options))


def unregister_cron(worker: str) -> None:
    """Forget a worker's schedule (tests that define cron workers clean up with it)."""
    _entries.pop(worker, None)


def cron_entries() -> list[CronEntry]:
    return list(_entries.values())


class CronScheduler(PeriodicDuty):
    """Inserts the due jobs of every cron worker, while this node leads."""

    name = "cron"

    def __init__(self, *, pool: asyncpg.Pool, query: Query, is_leader: Callable[[], bool],
                 interval: float, entries: Callable[[], list[CronEntry]] = cron_entries,
                 ) -> None:
        super().__init__(interval)
        self.pool = pool
        self.query = query
        self.is_leader = is_leader
        self.entries = entries
        self._checked_until: datetime | None = None  # None: not leading
        self._pruned_at = 0.0

    async def run_once(self) -> None:
        if not self.is_leader():
            self._checked_until = None
            return
        entries = self.entries()
        if not entries:
            return
        now = await self.query.database_now(self.pool)
        first_pass = self._checked_until is None
        since = self._checked_until or now - timedelta(seconds=GRACE)
        wanted: list[tuple[CronEntry, datetime]] = []
        for entry in entries:
            if entry.expression == REBOOT:
                if first_pass:  # once per leadership: the cluster (re)started leading
                    wanted.append((entry, now))
                continue
            start = since
            if entry.backfill and first_pass:
                last = await self.query.last_cron_slot(self.pool, worker=entry.worker)
                if last is not None:
                    start = min(start, last)
            slots = entry.slots_between(start, now, BACKFILL_LIMIT)
            if first_pass and not entry.backfill:
                slots = slots[-1:]  # the latest slot in the grace window, no back-filling
            wanted += [(entry, slot) for slot in slots]
        self._checked_until = now
        if wanted:
            await self._insert(wanted)
        if now.timestamp() - self._pruned_at > 3600:
            self._pruned_at = now.timestamp()
            await self.query.prune_cron_slots(self.pool, older_than=86_400)

    async def _insert(self, wanted: list[tuple[CronEntry, datetime]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await self.query.claim_cron_slots(
                conn, workers=[entry.worker for entry, _ in wanted],
                slots=[slot for _, slot in wanted])
            if not claimed:
                return
            entry_of = {entry.worker: entry for entry, _ in wanted}
            jobs = [Job(worker=worker, args=dict(entry_of[worker].args),
                        meta={"cron": {"expression": entry_of[worker].expression,
                                       "slot": slot.isoformat()}},
                        **entry_of[worker].options)
                    for worker, slot in claimed]
            rows = await self.query.insert_jobs(conn, jobs)
            await self.query.record_cron_jobs(
                conn, workers=[worker for worker, _ in claimed],
                slots=[slot for _, slot in claimed], job_ids=[row[0] for row in rows])
        log.info("cron.inserted", jobs=[{"worker": w, "slot": s.isoformat(), "id": r[0]}
                                        for (w, s), r in zip(claimed, rows, strict=True)])
