"""The runtime's duties against a real PostgreSQL: lifeline, pruner, shutdown, many nodes."""

from __future__ import annotations

import asyncio
import uuid

from waitpoint import Waitpoint

from ..conftest import wait_for_state, wait_until
from .workers import Complete, Gated, gates, seen


async def _insert_orphan(wp: Waitpoint, db, attempt: int = 1, max_attempts: int = 20) -> int:
    """A job left executing by a node that died: its producer never heartbeats."""
    return await db.fetchval(
        f"INSERT INTO {wp.schema}.jobs (state, worker, attempt, max_attempts, attempted_by,"
        " attempted_at) VALUES ('executing', $1, $2, $3, ARRAY['dead-node', $4], now())"
        " RETURNING id",
        Complete.__waitpoint_worker__, attempt, max_attempts, str(uuid.uuid4()))


async def test_lifeline_rescues_a_dead_nodes_jobs(wp: Waitpoint, db):
    orphan = await _insert_orphan(wp, db)
    exhausted = await _insert_orphan(wp, db, attempt=3, max_attempts=3)
    done = await wait_for_state(wp, orphan, "completed")
    assert "dead-node" in done.errors[0]["error"] and done.attempt == 2
    assert (await wait_for_state(wp, exhausted, "discarded")).discarded_at is not None


async def test_lifeline_leaves_a_live_nodes_jobs_alone(start_waitpoint):
    runner = await start_waitpoint(queues={"default": 2})
    job = await Gated.enqueue({})
    await wait_until(lambda: _started(job.id))
    # A second, leading-capable node with an aggressive lifeline must not steal the job.
    await start_waitpoint(queues={}, rescue_after=1.0)
    await asyncio.sleep(1.5)  # longer than rescue_after: the real deadline is the point
    assert (await runner.get_job(job.id)).state == "executing"
    gates[job.id].set()
    await wait_for_state(runner, job.id, "completed")


async def _started(job_id: int) -> bool:
    return "started" in seen[job_id]


async def test_pruner_deletes_old_finished_jobs_only(start_waitpoint, db):
    wp = await start_waitpoint(queues={}, prune_after=0.0)
    old = await wp.enqueue(Complete.new({}))
    keep = await wp.enqueue(Complete.new({}))
    await db.execute(
        f"UPDATE {wp.schema}.jobs SET state = 'completed', completed_at = now() - interval '1 s'"
        " WHERE id = $1", old.id)
    await wait_until(lambda: _gone(wp, old.id), message="the pruner")
    assert (await wp.get_job(keep.id)).state == "available"


async def _gone(wp: Waitpoint, job_id: int) -> bool:
    return await wp.get_job(job_id) is None


async def test_graceful_shutdown_lets_running_jobs_finish(start_waitpoint):
    wp = await start_waitpoint(queues={"default": 2}, shutdown_grace=10)
    job = await Gated.enqueue({})
    await wait_until(lambda: _started(job.id))
    stopping = asyncio.create_task(wp.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waiting for the running job
    gates[job.id].set()
    await stopping
    checker = await start_waitpoint(queues={})
    assert (await checker.get_job(job.id)).state == "completed"


async def test_jobs_past_the_grace_period_are_handed_back_at_once(start_waitpoint):
    # No lifeline could rescue it here (a rescue would take an hour): only the hand-back.
    wp = await start_waitpoint(queues={"default": 2}, shutdown_grace=0.1,
                               rescue_interval=3600, rescue_after=3600)
    job = await Gated.enqueue({})
    await wait_until(lambda: _started(job.id))
    await wp.stop()
    other = await start_waitpoint(queues={"default": 2}, rescue_interval=3600,
                                  rescue_after=3600)
    gates[job.id].set()
    done = await wait_for_state(other, job.id, "completed")
    assert done.attempt == 2 and "released" in done.errors[-1]["error"]


async def test_two_instances_run_a_thousand_jobs_once_each(start_waitpoint, db):
    first = await start_waitpoint(queues={"default": 20}, node="node-a")
    second = await start_waitpoint(queues={"default": 20}, node="node-b")
    jobs = await first.enqueue_many([Complete.new({"n": i}) for i in range(1000)])

    async def all_completed():
        return await db.fetchval(
            f"SELECT count(*) = 1000 FROM {first.schema}.jobs WHERE state = 'completed'")

    await wait_until(all_completed, timeout=60, message="1000 jobs to complete")
    assert all(seen[job.id] == ["ran"] for job in jobs)
    nodes = await db.fetch(
        f"SELECT attempted_by[1] AS node, count(*) FROM {first.schema}.jobs GROUP BY 1")
    assert {row["node"] for row in nodes} <= {"node-a", "node-b"}
    assert await db.fetchval(f"SELECT max(attempt) FROM {first.schema}.jobs") == 1
    assert second.is_leader != first.is_leader


async def test_a_new_job_starts_without_waiting_for_a_poll(start_waitpoint):
    wp = await start_waitpoint(queues={"default": 1}, poll_interval=30)
    job = await Complete.enqueue({})
    await wait_for_state(wp, job.id, "completed", timeout=5)  # far below the poll interval


async def test_one_log_event_per_job_outcome(wp: Waitpoint):
    import structlog

    with structlog.testing.capture_logs() as logs:
        job = await Complete.enqueue({})
        await wait_for_state(wp, job.id, "completed")
    (event,) = [e for e in logs if e["event"] == "job.completed" and e.get("id") == job.id]
    assert event["worker"] == Complete.__waitpoint_worker__ and event["queue"] == "default"
    assert event["attempt"] == 1 and event["duration_ms"] >= 0


async def test_claims_and_acks_commit_asynchronously_unless_asked(start_waitpoint):
    relaxed = await start_waitpoint(queues={"default": 1})
    strict = await start_waitpoint(queues={"default": 1}, synchronous_acks=True)
    assert await relaxed.cycle_pool.fetchval("SHOW synchronous_commit") == "off"
    assert await strict.cycle_pool.fetchval("SHOW synchronous_commit") == "on"
    assert await relaxed.pool.fetchval("SHOW synchronous_commit") == "on"  # inserts, signals


async def test_leadership_moves_when_the_leader_stops(start_waitpoint):
    first = await start_waitpoint(queues={}, node="leader-a")
    second = await start_waitpoint(queues={}, node="leader-b")
    assert first.is_leader and not second.is_leader
    await first.stop()  # resigns

    async def second_leads() -> bool:
        return second.is_leader

    await wait_until(second_leads, timeout=10, message="node b to take over leadership")
