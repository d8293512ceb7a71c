"""The per-minute counts every receiver process adds to one table: added, never lost by a
failed flush, and pruned."""

from __future__ import annotations

import asyncpg
import pytest

from ingest.delivery_counts import DeliveryCounts
from ingest.receiver_sql import InboxQuery


async def totals(db, schema):
    rows = await db.fetch(f"SELECT source, kind, name, sum(count) AS n "
                          f"FROM {schema}.delivery_counts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    return [tuple(row) for row in rows]


async def test_two_processes_add_to_the_same_minute(database_url, schema, db):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        first, second = (DeliveryCounts(pool, InboxQuery(schema)) for _ in range(2))
        for _ in range(3):
            first.outcome("stripe", "routed")
        second.outcome("stripe", "routed")
        second.rejected("stripe", "bad_signature")
        await first.flush()
        await second.flush()
        await first.flush()  # nothing new: adds nothing
        assert await totals(db, schema) == [("stripe", "outcome", "routed", 4),
                                            ("stripe", "rejected", "bad_signature", 1)]
    finally:
        await pool.close()


async def test_a_failed_flush_keeps_its_counts_for_the_next(database_url, schema, db):
    broken = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await broken.close()
    counts = DeliveryCounts(broken, InboxQuery(schema))
    counts.outcome("github", "duplicate")
    with pytest.raises(asyncpg.InterfaceError):
        await counts.flush()
    counts.outcome("github", "duplicate")
    counts.pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await counts.flush()
    finally:
        await counts.pool.close()
    assert await totals(db, schema) == [("github", "outcome", "duplicate", 2)]


async def test_old_minutes_are_pruned(database_url, schema, db):
    await db.execute(f"INSERT INTO {schema}.delivery_counts VALUES "
                     f"(now() - interval '15 days', 's', 'outcome', 'routed', 5), "
                     f"(now() - interval '1 hour', 's', 'outcome', 'routed', 7)")
    await InboxQuery(schema).prune_delivery_counts(db, older_than=14 * 86400)
    assert await totals(db, schema) == [("s", "outcome", "routed", 7)]
