"""Durable signals against a real PostgreSQL: await_signal, signal, keys, payloads."""

from __future__ import annotations

import asyncio
import json
import os
import signal as os_signal
import subprocess
import sys
from pathlib import Path

import pytest

from waitpoint import Waitpoint, await_signal, signal

from ..conftest import wait_for_state, wait_until
from .killable import ConsumeThenHang
from .workers import (
    ApprovalWorker,
    AwaitThenFail,
    KeyedWaiter,
    SoloQuick,
    SoloWaiter,
    TwoStep,
    seen,
)

ROOT = Path(__file__).resolve().parents[2]


async def _seen(job_id: int, count: int = 1) -> bool:
    return len(seen[job_id]) >= count


async def _executing(wp: Waitpoint, job_id: int):
    async def check():
        job = await wp.get_job(job_id)
        return job if job.state == "executing" else None
    return await wait_until(check, message=f"job {job_id} executing")


async def test_seed_example_approved_in_a_live_wait(wp: Waitpoint):
    job = await ApprovalWorker.enqueue({"user_id": 7})
    await _executing(wp, job.id)
    assert await signal(job.id, {"decision": "approved"}) == [job.id]
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"charged": 7}
    assert done.attempt == 1 and seen[job.id] == [{"decision": "approved"}]


async def test_seed_example_declined(wp: Waitpoint):
    job = await ApprovalWorker.enqueue({"user_id": 7})
    await signal(job.id, {"decision": "declined"})
    done = await wait_for_state(wp, job.id, "cancelled")
    assert "declined: declined" in done.errors[-1]["error"]


async def test_seed_example_times_out_after_snoozing(wp: Waitpoint):
    job = await ApprovalWorker.enqueue({"user_id": 7, "wait_for": 0.5, "wait_timeout": 0})
    waiting = await wait_for_state(wp, job.id, "scheduled")
    assert waiting.meta["await"]["call"] == 1 and "deadline" in waiting.meta["await"]
    assert waiting.attempt == 0  # waiting does not use up an attempt
    done = await wait_for_state(wp, job.id, "cancelled")
    assert seen[job.id] == ["timeout"] and "no decision" in done.errors[-1]["error"]
    assert done.meta["signals"]["1"] == {"timeout": True}


async def test_live_wait_covering_the_whole_deadline_times_out_without_snoozing(wp: Waitpoint):
    job = await ApprovalWorker.enqueue({"user_id": 1, "wait_for": 0.2, "wait_timeout": 5})
    done = await wait_for_state(wp, job.id, "cancelled")
    assert seen[job.id] == ["timeout"] and "await" not in done.meta


async def test_signal_sent_before_the_job_starts_is_consumed(start_waitpoint):
    inserter = await start_waitpoint(queues={})
    job = await ApprovalWorker.enqueue({"user_id": 3})
    assert await inserter.signal(job.id, {"decision": "approved"}) == [job.id]
    runner = await start_waitpoint(queues={"approvals": 5})
    done = await wait_for_state(runner, job.id, "completed")
    assert done.recorded == {"charged": 3}


async def test_signal_a_list_of_ids(wp: Waitpoint):
    job_a, job_b = await wp.enqueue_many([ApprovalWorker.new({"user_id": 1}),
                                          ApprovalWorker.new({"user_id": 2})])
    reached = await signal([job_a.id, job_b.id], {"decision": "approved"})
    assert sorted(reached) == [job_a.id, job_b.id]
    for job in (job_a, job_b):
        await wait_for_state(wp, job.id, "completed")


async def test_missing_and_finished_jobs_are_a_no_op(wp: Waitpoint, db):
    finished = await SoloQuick.enqueue({})
    await wait_for_state(wp, finished.id, "completed")
    assert await signal([finished.id, 999_999], {"decision": "approved"}) == []
    count = await db.fetchval(f"SELECT count(*) FROM {wp.schema}.signals")
    assert count == 0


async def test_snoozed_job_leaves_the_slot_and_is_woken_by_the_signal(wp: Waitpoint):
    waiter = await SoloWaiter.enqueue({"wait_timeout": 0.05})
    snoozed = await wait_for_state(wp, waiter.id, "suspended")
    assert snoozed.meta["await"] == {"call": 1, "snoozed_at": snoozed.meta["await"]["snoozed_at"]}
    # The concurrency-1 queue runs another job while the first one waits.
    other = await SoloQuick.enqueue({})
    await wait_for_state(wp, other.id, "completed")
    await signal(waiter.id, "go")
    done = await wait_for_state(wp, waiter.id, "completed")
    assert done.recorded == "go" and seen[waiter.id] == ["started", "started", "go"]
    assert done.attempt == 1


async def test_wait_timeout_zero_snoozes_at_once(wp: Waitpoint):
    job = await SoloWaiter.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    await wp.signal(job.id, {"late": True})
    assert (await wait_for_state(wp, job.id, "completed")).recorded == {"late": True}


async def test_wait_for_none_waits_indefinitely_in_suspended(wp: Waitpoint, db):
    job = await TwoStep.enqueue({})
    waiting = await wait_for_state(wp, job.id, "suspended")
    assert "deadline" not in waiting.meta["await"]
    staged = await db.fetchval(
        f"SELECT count(*) FROM {wp.schema}.jobs WHERE state IN ('scheduled', 'retryable')")
    assert staged == 0


async def test_two_awaits_in_one_job_across_snoozes(wp: Waitpoint):
    job = await TwoStep.enqueue({})
    await wait_for_state(wp, job.id, "suspended")
    await signal(job.id, "one")
    await wait_until(lambda: _has(job.id, ("first", "one")))
    await wait_for_state(wp, job.id, "suspended")
    await signal(job.id, "two")
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == ["one", "two"]
    # Three runs: the second replayed call 1 from the job's record, then waited at call 2.
    assert seen[job.id].count("run") == 3
    assert seen[job.id].count(("first", "one")) == 2


async def _has(job_id: int, item) -> bool:
    return item in seen[job_id]


async def test_several_signals_are_consumed_in_arrival_order(wp: Waitpoint):
    inserter_job = await TwoStep.enqueue({}, state="suspended")
    await signal(inserter_job.id, "a")
    await signal(inserter_job.id, "b")
    await wp.resume_job(inserter_job.id)
    done = await wait_for_state(wp, inserter_job.id, "completed")
    assert done.recorded == ["a", "b"]


async def test_a_retry_after_an_error_gets_the_same_payload(wp: Waitpoint, db):
    job = await AwaitThenFail.enqueue({})
    await signal(job.id, {"n": 1})
    await signal(job.id, {"n": 2})
    done = await wait_for_state(wp, job.id, "completed")
    assert done.attempt == 2 and seen[job.id] == [{"n": 1}, {"n": 1}]
    assert done.recorded == {"n": 1}
    unconsumed = await db.fetchval(
        f"SELECT count(*) FROM {wp.schema}.signals WHERE consumed_at IS NULL")
    assert unconsumed == 1


async def test_keyed_signal_reaches_a_live_waiter(wp: Waitpoint):
    job = await KeyedWaiter.enqueue({"key": "order:1"})
    await wait_until(lambda: _awaiting_key(wp, job.id, "order:1"))
    assert await signal(key="order:1", payload={"paid": True}) == [job.id]
    assert (await wait_for_state(wp, job.id, "completed")).recorded == {"paid": True}


async def test_keyed_signal_reaches_every_snoozed_waiter(wp: Waitpoint):
    jobs = await wp.enqueue_many(
        [KeyedWaiter.new({"key": "batch:9", "wait_timeout": 0}) for _ in range(3)])
    for job in jobs:
        await wait_for_state(wp, job.id, "suspended")
    reached = await wp.signal(key="batch:9", payload="done")
    assert sorted(reached) == [j.id for j in jobs]
    for job in jobs:
        assert (await wait_for_state(wp, job.id, "completed")).recorded == "done"


async def test_keyed_signal_before_the_waiter_is_kept_for_the_first_one(wp: Waitpoint):
    assert await wp.signal(key="order:2", payload={"paid": 1}) == []
    first = await KeyedWaiter.enqueue({"key": "order:2"})
    assert (await wait_for_state(wp, first.id, "completed")).recorded == {"paid": 1}
    second = await KeyedWaiter.enqueue({"key": "order:2", "wait_for": 0.3, "wait_timeout": 0})
    done = await wait_for_state(wp, second.id, "discarded", "retryable")
    assert "SignalTimeout" in done.errors[-1]["error"]


async def test_kept_keyed_signal_expires(wp: Waitpoint):
    await wp.signal(key="order:3", payload=1, keep_for=0.01)
    await asyncio.sleep(0.05)  # let the expiry pass: what is tested is a real deadline
    job = await KeyedWaiter.enqueue({"key": "order:3", "wait_for": 0.2}, max_attempts=1)
    await wait_for_state(wp, job.id, "discarded")


async def test_a_kept_keyed_signal_without_keep_for_has_no_expiry(wp: Waitpoint, db):
    await wp.signal(key="order:forever", payload=1)
    await wp.signal(key="order:an-hour", payload=2, keep_for=3600)
    rows = await db.fetch(f"SELECT key, expires_at IS NULL AS forever FROM {wp.schema}.signals "
                          "ORDER BY id")
    assert [tuple(r) for r in rows] == [("order:forever", True), ("order:an-hour", False)]


async def _awaiting_key(wp: Waitpoint, job_id: int, key: str) -> bool:
    job = await wp.get_job(job_id)
    return job.meta.get("await", {}).get("key") == key


@pytest.mark.parametrize("payload", [
    None, True, False, 0, -(2**63), 2**64 - 1, 1.5, "", "ünïcode ✓",
    [1, "two", [3.0, None]], {"nested": {"list": [True, {"k": "v"}]}, "n": -1},
])
async def test_payloads_round_trip_intact(wp: Waitpoint, payload):
    job = await SoloWaiter.enqueue({"wait_timeout": 5})
    await wp.signal(job.id, payload)
    await wait_for_state(wp, job.id, "completed")
    assert seen[job.id][-1] == payload and type(seen[job.id][-1]) is type(payload)


@pytest.mark.parametrize(("payload", "error"), [
    (2**64, TypeError), (-(2**63) - 1, TypeError), ({1, 2}, TypeError), (object(), TypeError),
    ({1: "int key"}, TypeError), (b"bytes", TypeError), ("x" * 300_000, ValueError),
    # Nested past the limit (erlpack's own EncodingError or a RecursionError before).
    (json.loads("[" * 500 + "]" * 500), ValueError), ({"a": "\ud800"}, ValueError),
])
async def test_unencodable_payloads_are_rejected_and_nothing_is_stored(wp, db, payload, error):
    job = await SoloWaiter.enqueue({}, state="suspended")
    with pytest.raises(error, match="payload"):
        await wp.signal(job.id, payload)
    assert await db.fetchval(f"SELECT count(*) FROM {wp.schema}.signals") == 0


async def test_await_signal_outside_a_job_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="inside a job"):
        await await_signal()


async def test_signal_needs_ids_or_a_key(wp: Waitpoint):
    with pytest.raises(ValueError, match="not both"):
        await wp.signal(1, "x", key="k")


async def test_a_killed_worker_process_reruns_with_the_payload_it_consumed(
        database_url, schema, start_waitpoint, db):
    inserter = await start_waitpoint(queues={})
    job = await ConsumeThenHang.enqueue({})
    await inserter.signal(job.id, "first")
    child = subprocess.Popen(
        [sys.executable, "-m", "waitpoint.cli", "work", "--import", "tests.waitpoint.killable",
         "--queues", "crash=1", "--schema", schema, "--database-url", database_url],
        cwd=ROOT, env={**os.environ, "WAITPOINT_TEST_HANG": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        consumed = await wait_until(lambda: _consumed_call_one(inserter, job.id), timeout=30,
                                    message="the child to consume the signal")
        assert consumed.state == "executing"
    finally:
        child.send_signal(os_signal.SIGKILL)
        child.wait()
    await inserter.signal(job.id, "second")
    runner = await start_waitpoint(queues={"crash": 1}, rescue_after=0.5)
    done = await wait_for_state(runner, job.id, "completed", timeout=30)
    assert done.recorded == "first" and done.attempt == 2
    assert "rescued" in done.errors[-1]["error"]
    pending = await db.fetchval(
        f"SELECT count(*) FROM {schema}.signals WHERE consumed_at IS NULL")
    assert pending == 1  # "second" was not consumed by the re-run


async def _consumed_call_one(wp: Waitpoint, job_id: int):
    job = await wp.get_job(job_id)
    return job if "1" in job.meta.get("signals", {}) else None
