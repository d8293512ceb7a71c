"""How many jobs are unfinished per queue and state, and how many wait: the leader's
latest sample when it is fresh (engine migration 015, every metrics_interval), else
counted now. Counting is an index scan of every unfinished job: cheap at a hundred
thousand, a third of a second at a million, which is too much for a page that refreshes
itself every few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from waitpoint.sql import Connectable

from .query import ConsoleQuery, Row

FRESH_FOR = 60.0
"""Seconds a sample is used for; older (no leader sampling), the console counts."""


@dataclass(frozen=True)
class Depth:
    queues: list[Row]
    waits: Row
    sampled_at: datetime | None
    """When the leader took the sample; None: counted for this page."""


async def depth(query: ConsoleQuery, conn: Connectable) -> Depth:
    waits = await query.wait_sample(conn)
    if waits is not None and waits["age_seconds"] <= FRESH_FOR:
        return Depth(await query.queue_sample(conn), waits, waits["sampled_at"])
    return Depth(await query.jobs_by_queue(conn), await query.wait_summary(conn), None)
