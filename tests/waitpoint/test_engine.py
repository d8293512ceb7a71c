"""The job engine against a real PostgreSQL: outcomes, retries, staging, suspension."""

from __future__ import annotations

import asyncio

import pytest

from waitpoint import Job, NoInstanceError, Waitpoint

from ..conftest import wait_for_state, wait_until
from .workers import Complete, FailTwice, Gated, Outcome, gates, seen


async def test_returning_a_value_completes(wp: Waitpoint):
    job = await Complete.enqueue({"value": 42})
    done = await wait_for_state(wp, job.id, "completed")
    assert done.completed_at is not None and done.attempt == 1
    assert done.attempted_by[0] == wp.node


async def test_cancel_result_cancels_with_reason(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "cancel"})
    done = await wait_for_state(wp, job.id, "cancelled")
    assert "not needed" in done.errors[-1]["error"] and done.cancelled_at is not None


async def test_snooze_reschedules_without_using_an_attempt(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "snooze"})
    done = await wait_for_state(wp, job.id, "completed")
    assert seen[job.id] == [1, 1]
    assert done.attempt == 1 and done.errors == []


async def test_record_stores_value_erlpack_encoded(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "record", "value": {"total": 3, "ok": True}})
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"total": 3, "ok": True}
    assert isinstance(done.meta["recorded"], str)


async def test_record_over_the_size_limit_fails_the_attempt(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "record", "value": "x" * 300_000}, max_attempts=1)
    done = await wait_for_state(wp, job.id, "discarded")
    assert "ValueError" in done.errors[-1]["error"] and "limit" in done.errors[-1]["error"]


async def test_error_is_retryable_with_backoff_and_traceback(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "fail"})
    done = await wait_for_state(wp, job.id, "retryable")
    error = done.errors[-1]
    assert error["error"] == "ValueError: boom on attempt 1" and error["attempt"] == 1
    assert "Traceback" in error["traceback"]
    # Default backoff: 15 s + 2^attempt, with 10% jitter.
    delay = (done.scheduled_at - done.attempted_at).total_seconds()
    assert 14 < delay < 20


async def test_custom_backoff_retries_until_success(wp: Waitpoint):
    job = await FailTwice.enqueue({})
    done = await wait_for_state(wp, job.id, "completed")
    assert seen[job.id] == [1, 2, 3] and len(done.errors) == 2


async def test_discarded_after_max_attempts(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "fail"}, max_attempts=1)
    done = await wait_for_state(wp, job.id, "discarded")
    assert done.discarded_at is not None and len(done.errors) == 1


async def test_unimportable_worker_is_discarded_and_the_producer_lives(wp: Waitpoint):
    bad = await wp.enqueue(Job(worker="nowhere_at_all.Missing"))
    done = await wait_for_state(wp, bad.id, "discarded")
    assert "nowhere_at_all" in done.errors[-1]["error"]
    good = await Complete.enqueue({})
    await wait_for_state(wp, good.id, "completed")


async def test_suspended_job_never_runs_until_resumed(wp: Waitpoint):
    job = await Complete.enqueue({}, state="suspended")
    marker = await Complete.enqueue({}, schedule_in=0.1)
    await wait_for_state(wp, marker.id, "completed")  # the stager has run meanwhile
    assert (await wp.get_job(job.id)).state == "suspended" and job.id not in seen
    resumed = await wp.resume_job(job)
    assert resumed.state == "available"
    await wait_for_state(wp, job.id, "completed")
    assert await wp.resume_job(job.id) is None


async def test_scheduled_job_is_staged_when_due(wp: Waitpoint):
    job = await Complete.enqueue({}, schedule_in=0.3)
    assert job.state == "scheduled"
    done = await wait_for_state(wp, job.id, "completed")
    assert (done.attempted_at - done.inserted_at).total_seconds() >= 0.3


async def test_insert_inside_a_callers_transaction(wp: Waitpoint, db):
    async with db.transaction():
        job = await wp.enqueue(Complete.new({}), conn=db)
        assert await wp.get_job(job.id) is None  # not visible before commit
    await wait_for_state(wp, job.id, "completed")


async def test_rolled_back_insert_leaves_nothing(wp: Waitpoint, db):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            job = await wp.enqueue(Complete.new({}), conn=db)
            raise RuntimeError("rollback")
    assert await wp.get_job(job.id) is None


async def test_enqueue_many_is_one_round_trip_in_input_order(wp: Waitpoint):
    jobs = [Complete.new({"value": i}, priority=i % 10) for i in range(50)]
    inserted = await wp.enqueue_many(jobs)
    assert [j.args["value"] for j in inserted] == list(range(50))
    assert all(j.id for j in inserted)
    # What the caller gets is what a fetch of the rows gives (ids, tags, times); the state
    # as inserted (the jobs may be running by now).
    assert all(j.state == "available" for j in inserted)
    for job in inserted[:3]:
        stored = await wp.get_job(job.id)
        assert (stored.id, stored.tags, stored.args, stored.meta, stored.inserted_at,
                stored.scheduled_at, stored.priority) == (
            job.id, job.tags, job.args, job.meta, job.inserted_at, job.scheduled_at,
            job.priority)


async def test_args_that_are_not_json_name_the_job_and_insert_nothing(wp: Waitpoint, db):
    jobs = [Complete.new({"n": 1}), Complete.new({"when": object()})]
    with pytest.raises(ValueError, match=r"args of job 1 .*JSON-serialisable"):
        await wp.enqueue_many(jobs)
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.jobs") == 0


async def test_enqueue_without_an_instance_says_what_to_do():
    with pytest.raises(NoInstanceError, match="async with Waitpoint"):
        await Complete.enqueue({})


async def test_concurrency_limit_is_respected(wp: Waitpoint):
    jobs = await wp.enqueue_many([Gated.new({}, queue="solo") for _ in range(3)])
    await wait_until(lambda: _started(jobs[0]), message="first job to start")
    await asyncio.sleep(0)  # give the producer its chance to over-fetch, if it would
    executing = await wp.list_jobs(state="executing", queue="solo")
    assert [j.id for j in executing] == [jobs[0].id]
    for job in jobs:
        gates.setdefault(job.id, asyncio.Event()).set()
    for job in jobs:
        await wait_for_state(wp, job.id, "completed")


async def _started(job: Job) -> bool:
    return "started" in seen[job.id]


async def test_cooperative_cancellation_of_a_running_job(wp: Waitpoint):
    job = await Gated.enqueue({})
    await wait_until(lambda: _started(job))
    assert await wp.cancel_job(job.id)
    await wait_until(lambda: _contains(job, "saw-cancel"))
    done = await wp.get_job(job.id)
    assert done.state == "cancelled"  # the later ack did not overwrite it
    assert not await wp.cancel_job(job.id)


async def _contains(job: Job, item: str) -> bool:
    return item in seen[job.id]


async def test_retry_job_reruns_a_discarded_job(wp: Waitpoint):
    job = await Outcome.enqueue({"outcome": "fail"}, max_attempts=1)
    await wait_for_state(wp, job.id, "discarded")
    retried = await wp.retry_job(job.id)
    assert retried.state == "available" and retried.max_attempts == 2
    await wait_for_state(wp, job.id, "discarded")
    assert seen[job.id] == [1, 2]


async def test_priority_orders_fetching(start_waitpoint):
    inserter = await start_waitpoint(queues={})
    jobs = await inserter.enqueue_many(
        [Complete.new({}, queue="ordered", priority=p) for p in (9, 0, 5)])
    runner = await start_waitpoint(queues={"ordered": 1})
    for job in jobs:
        await wait_for_state(runner, job.id, "completed")
    order = [j.priority for j in sorted(
        [await runner.get_job(j.id) for j in jobs], key=lambda j: j.attempted_at)]
    assert order == [0, 5, 9]


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(wp: Waitpoint):
    """The pools skip asyncpg's reset query (a round trip per release); a transaction
    left open is still ended (asyncpg's own cleanup), so the next user starts clean."""
    import asyncpg

    from waitpoint.sql import keep_session

    assert wp.pool._reset is keep_session
    pool = await asyncpg.create_pool(wp.database_url, min_size=1, max_size=1,
                                     reset=keep_session)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute(f"INSERT INTO {wp.schema}.jobs (worker) VALUES ('left.Open')")
            pid = conn.get_server_pid()
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid
            assert not conn.is_in_transaction()
            assert await conn.fetchval(
                f"SELECT count(*) FROM {wp.schema}.jobs WHERE worker = 'left.Open'") == 0
    finally:
        await pool.close()


async def test_a_connection_whose_protocol_broke_never_goes_back_to_the_pool(wp: Waitpoint):
    """Without asyncpg's reset query nothing would find a connection left mid-operation;
    the pools' connections terminate themselves on such an error, and the pool opens a
    fresh one (here: a second statement started while the first runs, a real
    InterfaceError from asyncpg)."""
    import asyncpg

    from waitpoint.sql import pool_options

    pool = await asyncpg.create_pool(wp.database_url, min_size=1, max_size=1,
                                     **pool_options())
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            outcomes = await asyncio.gather(conn.fetchval("SELECT pg_sleep(0.3)"),
                                            conn.fetchval("SELECT 1"), return_exceptions=True)
            assert any(isinstance(o, asyncpg.InterfaceError) for o in outcomes), outcomes
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != pid
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
