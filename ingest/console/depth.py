"""How many jobs are unfinished per queue and state, and how many wait: the leader's
latest sample when it is fresh (engine migration 015, every metrics_interval), else
counted now. Counting is an index scan of every unfinished job: cheap at a hundred
thousand, a third of a second at a million, which is too much for a page that refreshes
itself every few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from waitpoint import Waitpoint
from waitpoint.sql import Connectable

from .query import ConsoleQuery

FRESH_FOR = 60.0
"""Seconds a sample is used for; older (no leader sampling), the console counts."""


@dataclass(frozen=True)
class Depth:
    queues: list[tuple[str, str, int]]
    """(queue, state, unfinished jobs)."""
    waits: Any
    """waiting, oldest_since, nearest_deadline (a sample row, or the engine's WaitSample)."""
    sampled_at: datetime | None
    """When the leader took the sample; None: counted for this page."""


async def depth(query: ConsoleQuery, waitpoint: Waitpoint, conn: Connectable) -> Depth:
    waits = await query.wait_sample(conn)
    if waits is not None and waits["age_seconds"] <= FRESH_FOR:
        queues = [(row["queue"], row["state"], row["jobs"])
                  for row in await query.queue_sample(conn)]
        return Depth(queues, waits, waits["sampled_at"])
    counted = await waitpoint.queue_depth(conn=conn)  # on the console's connection
    return Depth(counted.queues, counted.waits, None)
