"""Event retention: what the inbox keeps, per source, and the dedupe window it implies."""

from __future__ import annotations

import textwrap

import pytest

import routing
from ingest.events import EventRecord
from ingest.receiver_sql import InboxQuery
from ingest.retention import EventRetention

CONFIG = textwrap.dedent("""\
    version: 1
    events_retention: 2d
    sources:
      short:
        path: /short
        verify: {scheme: none, insecure: true}
      long:
        path: /long
        verify: {scheme: none, insecure: true}
        retention: 90d
    """)


def test_retentions_read_as_durations():
    config = routing.parse_config(CONFIG, "r.yaml", {})
    assert config.events_retention == 2 * 86_400
    assert config.retentions() == {"short": 2 * 86_400, "long": 90 * 86_400}
    default = routing.parse_config(CONFIG.replace("events_retention: 2d\n", ""), "r.yaml", {})
    assert default.events_retention == 30 * 86_400


@pytest.mark.parametrize(("value", "message"), [
    ("soon", "expected a duration such as 30d"), ("10m", "greater than or equal to 3600")])
def test_a_bad_retention_names_its_line_and_field(value, message):
    with pytest.raises(routing.ConfigError) as raised:
        routing.parse_config(CONFIG.replace("2d", value), "r.yaml", {})
    assert "r.yaml:2" in str(raised.value) and "events_retention" in str(raised.value)
    assert message in str(raised.value)


async def _store(wp, source: str, delivery_id: str, days_ago: float) -> int:
    (ingested,) = await InboxQuery(wp.schema).ingest_batch(wp.pool, [EventRecord(
        source=source, delivery_id=delivery_id, body=b"{}", outcome="unrouted")])
    await wp.pool.execute(f"UPDATE {wp.schema}.events SET received_at = now() - "
                          "make_interval(days => $2) WHERE id = $1",
                          ingested.stored.event_id, days_ago)
    return ingested.stored.event_id


async def test_a_pass_deletes_what_is_past_its_sources_retention(start_waitpoint):
    wp = await start_waitpoint(queues={})
    config = routing.parse_config(CONFIG, "r.yaml", {})
    await _store(wp, "short", "old", 3)        # past 2 days: goes
    await _store(wp, "short", "new", 1)        # kept
    await _store(wp, "long", "old", 3)         # its source keeps 90 days
    await _store(wp, "long", "ancient", 91)    # goes
    await _store(wp, "unknown", "old", 3)      # a source no longer configured: the default
    retention = EventRetention(wp.pool, InboxQuery(wp.schema), config)
    assert await retention.run_once() == 3
    kept = await wp.pool.fetch(f"SELECT source, delivery_id FROM {wp.schema}.events "
                               "ORDER BY source, delivery_id")
    assert [tuple(row) for row in kept] == [("long", "old"), ("short", "new")]
    # The dedupe window is the retention: a pruned delivery id is new again.
    (again,) = await InboxQuery(wp.schema).ingest_batch(wp.pool, [EventRecord(
        source="short", delivery_id="old", body=b"{}", outcome="unrouted")])
    assert not again.stored.duplicate
    (kept_one,) = await InboxQuery(wp.schema).ingest_batch(wp.pool, [EventRecord(
        source="long", delivery_id="old", body=b"{}", outcome="unrouted")])
    assert kept_one.stored.duplicate


async def test_one_process_prunes_at_a_time(start_waitpoint, database_url):
    import asyncpg

    wp = await start_waitpoint(queues={})
    await _store(wp, "short", "old", 3)
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute(f"SELECT pg_advisory_xact_lock(hashtext('{wp.schema}."
                                "prune_events'))")
            assert await InboxQuery(wp.schema).prune_events(
                wp.pool, retentions={}, default=86_400, batch=10) is None
    finally:
        await other.close()
    assert await InboxQuery(wp.schema).prune_events(
        wp.pool, retentions={}, default=86_400, batch=10) == 1
