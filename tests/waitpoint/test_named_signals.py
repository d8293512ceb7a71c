"""Named signals against a real PostgreSQL: job signals by name (a queue per name), and
workflow signals (state: latest wins, propagation to sub-workflows and parents)."""

from __future__ import annotations

import asyncio
import os
import signal as os_signal
import subprocess
import sys
from pathlib import Path

import pytest

from waitpoint import Waitpoint, Workflow

from ..conftest import wait_for_state, wait_until
from .killable import FirstOfThenHang
from .workers import FirstOf, NamedInTurn, PeekThenWait, Reviewer, Shipper, Unnamed, seen

ROOT = Path(__file__).resolve().parents[2]


async def _state(wp: Waitpoint, job_id: int, *states: str):
    return await wait_for_state(wp, job_id, *states)


async def _pending(wp: Waitpoint, job_id: int) -> list[tuple[str | None, bool]]:
    rows = await wp.pool.fetch(
        f"SELECT name, consumed_at IS NOT NULL AS consumed FROM {wp.schema}.signals "
        "WHERE job_id = $1 ORDER BY id", job_id)
    return [(row["name"], row["consumed"]) for row in rows]


# job signals by name ------------------------------------------------------------------

async def test_signals_of_one_name_are_consumed_in_arrival_order(wp: Waitpoint):
    job = await NamedInTurn.enqueue({"names": ["step", "step", "step"]})
    for n in range(3):
        await wp.signal(job.id, n, name="step")
    done = await _state(wp, job.id, "completed")
    assert done.recorded == [["step", 0], ["step", 1], ["step", 2]]


async def test_a_name_not_reached_yet_is_kept_until_the_job_waits_for_it(wp: Waitpoint):
    job = await NamedInTurn.enqueue({"names": ["payment", "shipping"]})
    await _state(wp, job.id, "suspended")  # waiting for "payment"
    await wp.signal(job.id, {"carrier": "dhl"}, name="shipping")
    # Not what it waits for: it stays asleep, the signal stays pending.
    assert (await wp.get_job(job.id)).state == "suspended"
    assert await _pending(wp, job.id) == [("shipping", False)]
    await wp.signal(job.id, {"amount": 4200}, name="payment")
    done = await _state(wp, job.id, "completed")
    assert done.recorded == [["payment", {"amount": 4200}], ["shipping", {"carrier": "dhl"}]]


async def test_unnamed_and_named_signals_do_not_mix(wp: Waitpoint):
    job = await Unnamed.enqueue({})
    await _state(wp, job.id, "suspended")
    await wp.signal(job.id, "named", name="other")
    assert (await wp.get_job(job.id)).state == "suspended"
    await wp.signal(job.id, "plain")
    done = await _state(wp, job.id, "completed")
    assert done.recorded == "plain"
    assert await _pending(wp, job.id) == [("other", False), (None, True)]


async def test_await_signals_returns_both_in_any_order_across_snoozes(wp: Waitpoint):
    first = await Shipper.enqueue({})
    second = await Shipper.enqueue({})
    await _state(wp, first.id, "suspended")
    await _state(wp, second.id, "suspended")
    await wp.signal(first.id, "paid", name="payment")
    await wp.signal(second.id, "shipped", name="shipping")
    await wait_until(lambda: _asleep_after(wp, first.id, 2), message="first to sleep again")
    await wp.signal(first.id, "shipped", name="shipping")
    await wp.signal(second.id, "paid", name="payment")
    for job in (first, second):
        done = await _state(wp, job.id, "completed")
        assert done.recorded == {"payment": "paid", "shipping": "shipped"}
        assert [entry for entry in seen[job.id] if entry == "run"].__len__() >= 2


async def _asleep_after(wp: Waitpoint, job_id: int, runs: int) -> bool:
    job = await wp.get_job(job_id)
    return seen[job_id].count("run") >= runs and job.state == "suspended"


async def test_await_first_takes_the_first_and_leaves_the_other_pending(start_waitpoint):
    inserter = await start_waitpoint(queues={})
    job = await inserter.enqueue(FirstOf.new({"names": ["approved", "rejected"]}))
    await inserter.signal(job.id, "by alice", name="rejected")
    await inserter.signal(job.id, "by bob", name="approved")
    wp = await start_waitpoint(queues={"approvals": 5})
    done = await _state(wp, job.id, "completed")
    assert done.recorded == ["rejected", "by alice"]
    assert await _pending(wp, job.id) == [("rejected", True), ("approved", False)]


async def test_signals_sent_before_the_job_runs_are_consumed_by_name(start_waitpoint):
    inserter = await start_waitpoint(queues={})
    job = await inserter.enqueue(Shipper.new({}))
    await inserter.signal(job.id, "shipped", name="shipping")
    await inserter.signal(job.id, "paid", name="payment")
    runner = await start_waitpoint(queues={"approvals": 5})
    done = await _state(runner, job.id, "completed")
    assert done.recorded == {"payment": "paid", "shipping": "shipped"}


async def test_a_rerun_gets_the_memoized_answers_without_consuming_more(wp: Waitpoint, db):
    job = await FirstOf.enqueue({"names": ["approved", "rejected"]})
    await wp.signal(job.id, "yes", name="approved")
    done = await _state(wp, job.id, "completed")
    assert done.meta["signals"]["1"]["name"] == "approved"
    # Run it again from the top (as after a crash): the memo answers, nothing is consumed.
    await wp.signal(job.id, "late", name="rejected")  # finished: reaches nobody
    await db.execute(f"UPDATE {wp.schema}.jobs SET state = 'available', completed_at = NULL "
                     "WHERE id = $1", job.id)
    again = await _state(wp, job.id, "completed")
    assert again.recorded == ["approved", "yes"]
    assert seen[job.id] == [("approved", "yes"), ("approved", "yes")]


async def test_names_are_checked(wp: Waitpoint):
    with pytest.raises(ValueError, match="name"):
        await wp.signal(1, "x", name="")
    with pytest.raises(ValueError, match="name goes with job ids"):
        await wp.signal(key="k", payload="x", name="payment")


# workflow signals ---------------------------------------------------------------------

def _review(n: int, wait_timeout: float = 0) -> Workflow:
    workflow = Workflow()
    for index in range(n):
        workflow.add(f"review-{index}", Reviewer.new({"wait_timeout": wait_timeout}))
    return workflow


async def _all_waiting(wp: Waitpoint, job_ids: list[int]) -> bool:
    for job_id in job_ids:
        if (await wp.get_job(job_id)).state != "suspended":
            return False
    return True


async def test_every_step_gets_the_latest_value_and_none_consumes_it(wp: Waitpoint):
    workflow = _review(3)
    jobs = await wp.enqueue_many(workflow)
    await wait_until(lambda: _all_waiting(wp, [j.id for j in jobs]), message="steps asleep")
    assert await workflow.broadcast("approved", {"by": "alice"}) == [workflow.id]
    for job in jobs:
        assert (await _state(wp, job.id, "completed")).recorded == {"by": "alice"}
    # Latest wins, and a step that starts later gets it at once.
    await workflow.broadcast("approved", {"by": "bob"})
    assert await wp.workflow_signal(workflow.id, "approved") == {"by": "bob"}
    late = Workflow.append(workflow.id).add("late", Reviewer.new({}))
    (late_job,) = await wp.enqueue_many(late)
    assert (await _state(wp, late_job.id, "completed")).recorded == {"by": "bob"}
    assert seen[late_job.id][0] == {"by": "bob"}  # peek_signal saw it before waiting
    status = await workflow.status()
    assert set(status.signals) == {"approved"}


async def test_a_step_waiting_in_place_is_woken_by_a_broadcast(wp: Waitpoint):
    workflow = _review(1, wait_timeout=30)
    (job,) = await wp.enqueue_many(workflow)
    await wait_until(lambda: _peeked(job.id), message="the step to wait in place")
    await workflow.broadcast("approved", "now")
    assert (await _state(wp, job.id, "completed")).recorded == "now"


async def _peeked(job_id: int) -> bool:
    return len(seen[job_id]) >= 1


def _family(opt_out: bool) -> tuple[Workflow, Workflow, Workflow]:
    left = Workflow().add("review", Reviewer.new({}))
    right = Workflow().add("review", Reviewer.new({}))
    parent = (Workflow().add("review", Reviewer.new({}))
              .add_workflow("left", left)
              .add_workflow("right", right, propagate_to_parent=not opt_out))
    return parent, left, right


async def _sub_ids(wp: Waitpoint, parent_id: int) -> dict[str, int]:
    rows = await wp.pool.fetch(f"SELECT id, name FROM {wp.schema}.workflows "
                               "WHERE parent_id = $1", parent_id)
    return {row["name"]: row["id"] for row in rows}


async def test_a_broadcast_reaches_sub_workflows_and_from_a_sub_its_parent(wp: Waitpoint):
    parent, _, _ = _family(opt_out=False)
    await wp.enqueue_many(parent)
    subs = await _sub_ids(wp, parent.id)
    # From the parent: itself and both sub-workflows.
    assert sorted(await parent.broadcast("approved", 1)) == sorted(
        [parent.id, subs["left"], subs["right"]])
    # From a sub-workflow: its parent, and from there the sibling.
    reached = await wp.broadcast_workflow(subs["left"], "approved", 2)
    assert sorted(reached) == sorted([parent.id, subs["left"], subs["right"]])
    for workflow_id in reached:
        assert await wp.workflow_signal(workflow_id, "approved") == 2
    # Without propagation: only the workflow itself.
    assert await wp.broadcast_workflow(subs["left"], "approved", 3, propagate=False) == [
        subs["left"]]
    assert await wp.workflow_signal(parent.id, "approved") == 2


async def test_a_sub_workflow_that_opts_out_keeps_its_broadcasts_to_itself(wp: Waitpoint):
    parent, _, _ = _family(opt_out=True)
    await wp.enqueue_many(parent)
    subs = await _sub_ids(wp, parent.id)
    assert await wp.broadcast_workflow(subs["right"], "approved", "mine") == [subs["right"]]
    assert await wp.workflow_signal(parent.id, "approved") is None
    # The parent's broadcasts still reach it.
    assert subs["right"] in await parent.broadcast("approved", "all")


async def test_one_broadcast_unblocks_every_review_across_sub_workflows(wp: Waitpoint):
    parent, _, _ = _family(opt_out=False)
    jobs = await wp.enqueue_many(parent)
    await wait_until(lambda: _all_waiting(wp, [j.id for j in jobs]), message="reviews asleep")
    await parent.broadcast("approved", {"by": "board"})
    for job in jobs:
        assert (await _state(wp, job.id, "completed")).recorded == {"by": "board"}


async def test_a_broadcast_to_no_such_workflow_reaches_nothing(wp: Waitpoint):
    assert await wp.broadcast_workflow(987654, "approved", 1) == []
    assert await wp.workflow_signal(987654, "approved") is None


async def test_broadcasts_racing_steps_going_to_sleep_are_never_lost(wp: Waitpoint):
    """Each broadcast fires while its step is deciding to snooze; a lost wake-up would
    leave the step asleep, which the deadline of wait_for_state catches."""
    workflows = [_review(1) for _ in range(20)]
    jobs = [job for workflow in workflows for job in await wp.enqueue_many(workflow)]
    for job in jobs:
        await wait_for_state(wp, job.id, "executing", "suspended")
    await asyncio.gather(*(workflow.broadcast("approved", n)
                           for n, workflow in enumerate(workflows)))
    for n, job in enumerate(jobs):
        assert (await _state(wp, job.id, "completed")).recorded == n


async def test_workflow_scope_needs_a_workflow_step(wp: Waitpoint):
    job = await Reviewer.enqueue({})
    failed = await _state(wp, job.id, "retryable", "discarded")
    assert "workflow step" in failed.errors[-1]["error"]


async def test_a_killed_worker_reruns_with_the_name_and_payload_it_consumed(
        database_url, schema, start_waitpoint, db):
    inserter = await start_waitpoint(queues={})
    job = await inserter.enqueue(FirstOfThenHang.new({}))
    await inserter.signal(job.id, "first", name="rejected")
    child = subprocess.Popen(
        [sys.executable, "-m", "waitpoint.cli", "work", "--import", "tests.waitpoint.killable",
         "--queues", "crash=1", "--schema", schema, "--database-url", database_url],
        cwd=ROOT, env={**os.environ, "WAITPOINT_TEST_HANG": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_until(lambda: _memoized(inserter, job.id), timeout=30,
                         message="the child to consume the signal")
    finally:
        child.send_signal(os_signal.SIGKILL)
        child.wait()
    await inserter.signal(job.id, "second", name="approved")
    runner = await start_waitpoint(queues={"crash": 1}, rescue_after=0.5)
    done = await wait_for_state(runner, job.id, "completed", timeout=30)
    assert done.recorded == ["rejected", "first"] and done.attempt == 2
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.signals "
                             "WHERE consumed_at IS NULL AND name = 'approved'") == 1


async def _memoized(wp: Waitpoint, job_id: int):
    job = await wp.get_job(job_id)
    return job if "1" in job.meta.get("signals", {}) else None


async def test_peek_shows_the_next_payload_without_consuming_it(start_waitpoint):
    inserter = await start_waitpoint(queues={})
    waiting = await inserter.enqueue(PeekThenWait.new({}))
    ready = await inserter.enqueue(PeekThenWait.new({}))
    await inserter.signal(ready.id, "paid", name="payment")
    wp = await start_waitpoint(queues={"approvals": 5})
    assert (await _state(wp, ready.id, "completed")).recorded == "paid"
    assert seen[ready.id][0] == "paid"  # peeked, then the wait still got it
    await _state(wp, waiting.id, "suspended")
    assert seen[waiting.id][0] is None


async def test_a_job_that_snoozed_before_names_existed_is_woken_as_before(wp: Waitpoint, db):
    """Rows written before the migration: a wait without `names` and signals without a
    name are the unnamed kind, unchanged."""
    job_id = await db.fetchval(
        f"INSERT INTO {wp.schema}.jobs (worker, queue, state, meta) VALUES "
        "('tests.waitpoint.workers.Unnamed', 'approvals', 'suspended', "
        """'{"await": {"call": 1, "snoozed_at": "2026-01-01T00:00:00+00:00"}}') RETURNING id""")
    await wp.signal(job_id, "from before")
    assert (await _state(wp, job_id, "completed")).recorded == "from before"
