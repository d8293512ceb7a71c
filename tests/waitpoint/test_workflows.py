"""Workflows against a real PostgreSQL: dependencies, signals by step, status, uniqueness."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from waitpoint import Job, Waitpoint, Workflow

from ..conftest import wait_for_state, wait_until
from .workers import ApprovalWorker, ChargeWorker, Complete, Outcome, Voter


async def steps(wp: Waitpoint, workflow: Workflow) -> dict[str, Job]:
    rows = await wp.pool.fetch(f"SELECT id, step FROM {wp.schema}.jobs WHERE workflow_id = $1",
                               workflow.id)
    return {row["step"]: await wp.get_job(row["id"]) for row in rows}


async def test_seed_example_approval_then_charge(wp: Waitpoint):
    workflow = (
        Workflow()
        .add("approval", ApprovalWorker.new({"user_id": 123, "wait_timeout": 0}))
        .add("charge", ChargeWorker.new({"user_id": 123}), deps=["approval"])
    )
    inserted = await wp.enqueue_many(workflow)
    assert [j.state for j in inserted] == ["available", "suspended"]
    status = await workflow.status()
    # Racing the worker: not started, running, or already snoozed for its signal.
    assert status.state in ("pending", "executing", "waiting") and status.total == 2
    approval, charge = inserted
    await wait_for_state(wp, approval.id, "scheduled")  # waiting for its signal
    assert (await wp.get_job(charge.id)).state == "suspended"
    # Nothing runs: the workflow waits (it said "executing" before).
    assert (await workflow.status()).state == "waiting"
    assert await workflow.signal("approval", {"decision": "approved"}) == [approval.id]
    done = await wait_for_state(wp, charge.id, "completed")
    assert done.recorded == {"charged": 123}
    status = await workflow.status()
    assert status.state == "completed" and status.counts["completed"] == 2
    assert status.finished_at is not None and status.duration.total_seconds() > 0


async def test_signal_several_steps_by_name(wp: Waitpoint):
    workflow = (Workflow().add("reviewer_a", Voter.new({})).add("reviewer_b", Voter.new({}))
                .add("merge", Complete.new({}), deps=["reviewer_a", "reviewer_b"]))
    jobs = await wp.enqueue_many(workflow)
    for job in jobs[:2]:
        await wait_for_state(wp, job.id, "suspended")
    reached = await workflow.signal(["reviewer_a", "reviewer_b"], {"vote": "yes"})
    assert sorted(reached) == sorted(j.id for j in jobs[:2])
    await wait_for_state(wp, jobs[2].id, "completed")
    assert (await wp.get_job(jobs[0].id)).recorded == {"vote": "yes"}


async def test_chain_fan_out_and_fan_in(wp: Waitpoint):
    workflow = (Workflow().add("a", Complete.new({})).add("b", Complete.new({}), deps="a")
                .add("c", Complete.new({}), deps="a").add("d", Complete.new({}), deps=["b", "c"]))
    await wp.enqueue_many(workflow)
    by_step = await steps(wp, workflow)
    done = await wait_for_state(wp, by_step["d"].id, "completed")
    finished = {name: await wp.get_job(job.id) for name, job in by_step.items()}
    assert finished["b"].attempted_at >= finished["a"].completed_at
    assert finished["c"].attempted_at >= finished["a"].completed_at
    assert done.attempted_at >= max(finished["b"].completed_at, finished["c"].completed_at)


async def test_sub_workflow_counts_as_one_step_and_is_signalled_by_path(wp: Waitpoint):
    imports = (Workflow().add("approval", Voter.new({}))
               .add("load", Complete.new({}), deps="approval"))
    workflow = (Workflow(name="nightly").add("prepare", Complete.new({}))
                .add_workflow("import", imports, deps="prepare")
                .add("report", Complete.new({}), deps="import"))
    await wp.enqueue_many(workflow)
    status = await workflow.status()
    assert status.total == 4 and status.subs["import"].total == 2
    sub_rows = await wp.pool.fetch(
        f"SELECT j.id, j.step, j.state::text AS state, j.deps FROM {wp.schema}.jobs j"
        f" JOIN {wp.schema}.workflows w ON w.id = j.workflow_id WHERE w.parent_id = $1",
        workflow.id)
    approval = next(r for r in sub_rows if r["step"] == "approval")
    assert list(approval["deps"]) == ["../prepare"]
    await wait_for_state(wp, approval["id"], "suspended", "scheduled")
    await wait_until(lambda: _job_waits(wp, approval["id"]), message="approval to await")
    assert await workflow.signal("import/approval", "ok") == [approval["id"]]
    report = (await steps(wp, workflow))["report"]
    await wait_for_state(wp, report.id, "completed")
    status = await workflow.status()
    assert status.subs["import"].state == "completed" and status.state == "completed"


async def _job_waits(wp: Waitpoint, job_id: int) -> bool:
    job = await wp.get_job(job_id)
    return "await" in job.meta


@pytest.mark.parametrize(("outcome", "options", "expected"), [
    ("cancel", {}, "cancelled"),
    ("cancel", {"ignore_cancelled": True}, "completed"),
    ("fail", {}, "cancelled"),
    ("fail", {"ignore_discarded": True}, "completed"),
])
async def test_cancel_and_discard_propagate_unless_ignored(wp, outcome, options, expected):
    workflow = (Workflow()
                .add("first", Outcome.new({"outcome": outcome}, max_attempts=1))
                .add("second", Complete.new({}), deps="first", **options)
                .add("third", Complete.new({}), deps="second"))
    await wp.enqueue_many(workflow)
    by_step = await steps(wp, workflow)
    third = await wait_for_state(wp, by_step["third"].id, "completed", "cancelled")
    second = await wp.get_job(by_step["second"].id)
    assert second.state == expected and third.state == expected
    if expected == "cancelled":
        assert "dependency first did not complete" in second.errors[-1]["error"]
        assert (await workflow.status()).state in ("cancelled", "discarded")


async def test_status_counts_follow_every_transition(wp: Waitpoint):
    workflow = (Workflow().add("wait", Voter.new({}))
                .add("after", Complete.new({}), deps="wait"))
    jobs = await wp.enqueue_many(workflow)
    await wait_for_state(wp, jobs[0].id, "suspended")
    status = await workflow.status()
    assert status.counts == {"available": 0, "scheduled": 0, "suspended": 2, "executing": 0,
                             "retryable": 0, "completed": 0, "discarded": 0, "cancelled": 0}
    assert status.started_at is not None
    await workflow.signal("wait", 1)
    await wait_for_state(wp, jobs[1].id, "completed")
    assert (await workflow.status()).counts["completed"] == 2


def test_invalid_workflows_are_refused_before_anything_is_inserted():
    with pytest.raises(ValueError, match="unknown step 'missing'"):
        Workflow().add("a", Complete.new({}), deps="missing")
    with pytest.raises(ValueError, match="already a step"):
        Workflow().add("a", Complete.new({})).add("a", Complete.new({}))
    with pytest.raises(ValueError, match="unknown step 'a'"):  # a self-dependency: a cycle
        Workflow().add("a", Complete.new({}), deps="a")
    with pytest.raises(ValueError, match="needs a name"):
        Workflow(unique=True)


async def test_unique_workflow_holds_across_concurrent_inserters(wp: Waitpoint, database_url):
    conns = [await asyncpg.connect(database_url) for _ in range(20)]

    async def insert(conn: asyncpg.Connection) -> list[Job]:
        workflow = (Workflow(name="nightly-import", unique=True)
                    .add("extract", Voter.new({}))
                    .add("load", Complete.new({}), deps="extract"))
        async with conn.transaction():
            return await wp.enqueue_many(workflow, conn=conn)

    try:
        results = await asyncio.gather(*(insert(conn) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()
    conflicted = [all(job.extra.get("conflicted") for job in jobs) for jobs in results]
    assert conflicted.count(False) == 1 and conflicted.count(True) == 19
    assert await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.workflows") == 1
    assert await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.jobs") == 2


async def test_unique_name_is_free_again_once_finished(wp: Waitpoint):
    def nightly() -> Workflow:
        return Workflow(name="nightly", unique=True).add("only", Complete.new({}))

    first = nightly()
    (job,) = await wp.enqueue_many(first)
    await wait_until(lambda: _finished(first), message="the first run to finish")
    (again,) = await wp.enqueue_many(nightly())
    assert not again.extra.get("conflicted") and again.id != job.id


async def _finished(workflow: Workflow) -> bool:
    return (await workflow.status()).finished_at is not None


async def test_append_to_an_existing_workflow(wp: Waitpoint):
    workflow = Workflow(name="grows", unique=True).add("first", Complete.new({}))
    (first,) = await wp.enqueue_many(workflow)
    await wait_for_state(wp, first.id, "completed")
    appended = Workflow.append(workflow.id).add("second", Complete.new({}), deps="first")
    (second,) = await wp.enqueue_many(appended)
    await wait_for_state(wp, second.id, "completed")  # its dependency had completed already
    assert (await workflow.status()).total == 2
    with pytest.raises(ValueError, match="has no step 'nope'"):
        await wp.enqueue_many(Workflow.append(workflow.id).add("x", Complete.new({}),
                                                              deps="nope"))


async def test_pruner_removes_finished_workflows_with_their_jobs(start_waitpoint):
    wp = await start_waitpoint(queues={"default": 5}, prune_after=0.0)
    workflow = Workflow().add("only", Complete.new({}))
    (job,) = await wp.enqueue_many(workflow)

    async def gone() -> bool:
        return await wp.pool.fetchval(
            f"SELECT count(*) = 0 FROM {wp.schema}.workflows WHERE id = $1", workflow.id)

    await wait_until(gone, message="the workflow row to be pruned")
    assert await wp.get_job(job.id) is None


async def test_lifeline_repairs_a_lost_transition(start_waitpoint):
    wp = await start_waitpoint(queues={"default": 5}, workflow_repair_after=0.2)
    await wp.pool.execute(f"ALTER TABLE {wp.schema}.jobs DISABLE TRIGGER jobs_workflow_resolve")
    workflow = Workflow().add("a", Complete.new({})).add("b", Complete.new({}), deps="a")
    first, second = await wp.enqueue_many(workflow)
    await wait_for_state(wp, first.id, "completed")
    assert (await wp.get_job(second.id)).state == "suspended"  # the transition was lost
    await wp.pool.execute(f"ALTER TABLE {wp.schema}.jobs ENABLE TRIGGER jobs_workflow_resolve")
    await wait_for_state(wp, second.id, "completed")


async def test_a_failure_resolving_dependents_leaves_the_finished_job_acked(start_waitpoint):
    wp = await start_waitpoint(queues={"default": 5}, workflow_repair_after=0.2)
    original = await wp.pool.fetchval(
        "SELECT pg_get_functiondef(to_regprocedure($1))",
        f"{wp.schema}.resolve_dependents(bigint,text)")
    await wp.pool.execute(
        f"CREATE OR REPLACE FUNCTION {wp.schema}.resolve_dependents(wf bigint, finished_step text)"
        " RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END; $$")
    workflow = Workflow().add("a", Complete.new({})).add("b", Complete.new({}), deps="a")
    first, second = await wp.enqueue_many(workflow)
    done = await wait_for_state(wp, first.id, "completed")  # acked despite the failure
    assert done.completed_at is not None
    assert (await wp.get_job(second.id)).state == "suspended"
    await wp.pool.execute(original)
    await wait_for_state(wp, second.id, "completed")  # repaired by the lifeline


async def test_a_workflow_nobody_has_started_is_pending(start_waitpoint):
    inserter = await start_waitpoint(queues={})  # runs no jobs
    workflow = Workflow().add("a", Complete.new({})).add("b", Complete.new({}), deps="a")
    await inserter.enqueue_many(workflow)
    status = await workflow.status()
    assert status.state == "pending"  # available and suspended jobs only: nothing executes
    assert status.counts["available"] == 1 and status.counts["suspended"] == 1
