"""Entering a wait is committed by the producer's next cycle (snooze_jobs()): the
statement that decides between suspending and re-running a job must see every signal
committed while it waited for its locks, or the job sleeps through its signal."""

from __future__ import annotations

import asyncio

import asyncpg
import erlpack

from waitpoint._ack import SnoozeAck
from waitpoint._query import Query

from ..conftest import wait_until


async def _executing_job(db: asyncpg.Connection, schema: str, meta: str = "{}") -> int:
    job_id: int = await db.fetchval(
        f"INSERT INTO {schema}.jobs (worker, state, attempt, meta) "
        "VALUES ('tests.Waiter', 'executing', 1, $1::jsonb) RETURNING id", meta)
    return job_id


async def _state(db: asyncpg.Connection, schema: str, job_id: int) -> asyncpg.Record:
    return await db.fetchrow(f"SELECT state::text, attempt, meta, scheduled_at, now() AS now "
                             f"FROM {schema}.jobs WHERE id = $1", job_id)


async def _lock_waits(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"))


async def test_without_a_signal_the_job_suspends_or_waits_for_its_deadline(db, schema):
    query = Query(schema)
    forever, bounded = await _executing_job(db, schema), await _executing_job(db, schema)
    results = await query.snooze_jobs(db, snoozes=[SnoozeAck(forever, 1, None, None),
                                                   SnoozeAck(bounded, 2, None, 60.0)])
    assert sorted((r.job_id, r.available) for r in results) == [(forever, False),
                                                                (bounded, False)]
    suspended, scheduled = await _state(db, schema, forever), await _state(db, schema, bounded)
    assert suspended["state"] == "suspended" and suspended["attempt"] == 0
    assert scheduled["state"] == "scheduled"
    assert 55 < (scheduled["scheduled_at"] - scheduled["now"]).total_seconds() <= 60


async def test_a_second_snooze_of_the_same_call_keeps_its_deadline(db, schema):
    query = Query(schema)
    job_id = await _executing_job(
        db, schema, '{"await": {"call": 1, "deadline": "2100-01-01T00:00:00+00:00", '
                    '"snoozed_at": "2000-01-01T00:00:00+00:00"}}')
    await query.snooze_jobs(db, snoozes=[SnoozeAck(job_id, 1, None, 5.0)])
    row = await _state(db, schema, job_id)
    assert row["scheduled_at"].year == 2100
    assert '"snoozed_at": "2000-01-01' in row["meta"]


async def test_a_job_that_left_executing_is_not_touched(db, schema):
    query = Query(schema)
    job_id = await _executing_job(db, schema)
    await db.execute(f"UPDATE {schema}.jobs SET state = 'cancelled', cancelled_at = now() "
                     "WHERE id = $1", job_id)
    assert await query.snooze_jobs(db, snoozes=[SnoozeAck(job_id, 1, None, None)]) == []
    assert (await _state(db, schema, job_id))["state"] == "cancelled"


async def _snooze_while_sender_commits(database_url: str, db: asyncpg.Connection,
                                       schema: str, sending_sql: str, arguments: tuple,
                                       snooze: SnoozeAck):
    """Run `sending_sql` in a transaction that stays open until snooze_jobs() waits on
    its locks, then commit it; return the snooze's result."""
    sender = await asyncpg.connect(database_url)
    try:
        sending = sender.transaction()
        await sending.start()
        await sender.execute(sending_sql, *arguments)
        snoozing = asyncio.create_task(Query(schema).snooze_jobs(db, snoozes=[snooze]))
        await wait_until(lambda: _lock_waits(sender), message="the snooze to wait")
        await sending.commit()
        (result,) = await asyncio.wait_for(snoozing, timeout=10)
        return result
    finally:
        await sender.close()


async def test_a_signal_committed_while_the_snooze_waits_for_the_job_makes_it_rerun(
        database_url, db, schema):
    job_id = await _executing_job(db, schema)
    # The signal finds the job executing: stored, not woken; it holds the row lock.
    result = await _snooze_while_sender_commits(
        database_url, db, schema, f"SELECT {schema}.signal_jobs(ARRAY[$1::bigint], $2, 'test')",
        (job_id, erlpack.pack("go")), SnoozeAck(job_id, 1, None, None))
    assert result.available, "the job slept through a signal committed before its snooze"
    assert (await _state(db, schema, job_id))["state"] == "available"


async def test_a_keyed_signal_kept_while_the_snooze_waits_for_the_key_makes_it_rerun(
        database_url, db, schema):
    job_id = await _executing_job(db, schema)
    # Nobody waits on the key yet (the snooze records it): the signal is kept, under the
    # key's lock.
    result = await _snooze_while_sender_commits(
        database_url, db, schema, f"SELECT {schema}.signal_key('order:1', $1, 'test', NULL)",
        (erlpack.pack("paid"),), SnoozeAck(job_id, 1, "order:1", None))
    assert result.available
    assert (await _state(db, schema, job_id))["state"] == "available"


async def test_a_workflow_signal_set_while_the_snooze_waits_makes_the_step_rerun(
        database_url, db, schema):
    query = Query(schema)
    workflow_id = await db.fetchval(
        f"INSERT INTO {schema}.workflows (name) VALUES ('review') RETURNING id")
    job_id = await db.fetchval(
        f"INSERT INTO {schema}.jobs (worker, state, attempt, workflow_id, step) "
        "VALUES ('tests.Reviewer', 'executing', 1, $1, 'review') RETURNING id", workflow_id)
    result = await _snooze_while_sender_commits(
        database_url, db, schema,
        f"SELECT {schema}.broadcast_workflow_signal($1, 'approved', $2, 'test', true)",
        (workflow_id, erlpack.pack("yes")),
        SnoozeAck(job_id, 1, None, None, ("approved",), "workflow"))
    assert result.available
    # And a step that snoozed first is woken by the broadcast.
    other = await db.fetchval(
        f"INSERT INTO {schema}.jobs (worker, state, attempt, workflow_id, step) "
        "VALUES ('tests.Reviewer', 'executing', 1, $1, 'other') RETURNING id", workflow_id)
    await query.snooze_jobs(db, snoozes=[SnoozeAck(other, 1, None, None, ("later",),
                                                   "workflow")])
    assert (await _state(db, schema, other))["state"] == "suspended"
    await query.broadcast_workflow_signal(db, workflow_id=workflow_id, name="later",
                                          payload=erlpack.pack(1), source=None, propagate=True)
    assert (await _state(db, schema, other))["state"] == "available"
