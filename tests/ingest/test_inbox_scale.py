"""Committing a callback looks its jobs up by index, whatever the number of waiting jobs.

ingest_batch() once found a batch's jobs with a sequential scan of the whole jobs table
(a planner estimate of 10,000 targets made a hash join look cheaper), so every callback
cost more as jobs piled up waiting. This counts the table's sequential scans (PostgreSQL's
own statistics, not a clock) around one committed callback among 20,000 waiting jobs.
"""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg

from ingest.events import EventRecord
from ingest.prepared import prepare
from ingest.receiver_sql import InboxQuery
from routing import Callback, evaluate, parse_config

CALLBACKS = 12
CONFIG = """\
version: 1
sources:
  s:
    path: /s
    verify: {scheme: none, insecure: true}
    routes:
      - signal: {job: body.job, payload: {ok: "true"}}
"""


async def scans_of_jobs(db, schema: str) -> tuple[int, int]:
    """(sequential scans of jobs, rows inserted into events), once flushed to the view."""
    row = await db.fetchrow(
        "SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 "
        "        AND relname = 'jobs') AS scans,"
        "       (SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = $1 "
        "        AND relname = 'events') AS events", schema)
    return row["scans"], row["events"]


async def flushed(db, schema: str, events: int) -> tuple[int, int]:
    """Poll (with a deadline) until the statistics show `events` inserted events."""
    deadline = time.monotonic() + 15
    while True:
        await db.execute("SELECT pg_stat_clear_snapshot()")
        found = await scans_of_jobs(db, schema)
        if found[1] == events:
            return found
        assert time.monotonic() < deadline, f"statistics never showed {events} events"
        await asyncio.sleep(0.05)


async def test_a_callback_among_many_waiting_jobs_does_not_scan_them(db, schema, database_url):
    await db.execute(f"INSERT INTO {schema}.jobs (worker, state) "
                     "SELECT 'tests.Waiting', 'suspended' FROM generate_series(1, 20000)")
    # Not analyzed yet, as right after a burst of new jobs: the old lookup chose a full scan
    # on every call here (it fails this test), the index lookup does not depend on it.
    targets = [r["id"] for r in await db.fetch(
        f"SELECT id FROM {schema}.jobs ORDER BY id DESC LIMIT $1", CALLBACKS)]
    source = parse_config(CONFIG, "inline.yaml", {}).sources["s"]
    before = await flushed(db, schema, 0)

    # One connection, as the receiver's pool reuses them: after five calls PostgreSQL may
    # switch the function's statements to cached generic plans; both kinds must hold.
    writer = await asyncpg.connect(database_url)
    try:
        for number, target in enumerate(targets):
            body = json.dumps({"job": target}).encode()
            evaluation = prepare(evaluate(
                source, Callback(body=body, headers={"content-type": "application/json"})))
            record = EventRecord(source="s", delivery_id=f"d-{number}", body=body,
                                 outcome=evaluation.outcome, deliveries=evaluation.deliveries)
            (ingested,) = await InboxQuery(schema).ingest_batch(writer, [record])
            assert ingested.stored.signalled[0].reached == (target,)
        await writer.execute("SELECT pg_stat_force_next_flush()")
    finally:
        await writer.close()  # a closing backend flushes its statistics

    after = await flushed(db, schema, CALLBACKS)
    assert after[0] == before[0], "ingest_batch scanned the whole jobs table"
