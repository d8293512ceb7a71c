"""waitpoint.testing, used the way the README shows it."""

from __future__ import annotations

import pytest

from waitpoint import Cancel, Record, SignalTimeout, Waitpoint, await_signal, job, worker
from waitpoint.testing import (
    all_enqueued,
    assert_enqueued,
    drain_queue,
    mode,
    process_job,
    refute_enqueued,
)


@worker(queue="payments")
class Charge:
    async def process(self, job):
        decision = await await_signal(wait_for=3600)
        if decision["approved"]:
            return Record({"charged": job.args["amount"]})
        return Cancel("declined")


@worker(queue="orders")
class Ship:
    async def process(self, job):
        paid = await await_signal(name="payment")
        carrier = await await_signal(name="shipping")
        await Notify.enqueue({"order": job.args["order"], "carrier": carrier})
        return Record(paid)


@worker(queue="orders")
class Notify:
    async def process(self, job):
        return None


@job(queue="orders")
async def add(a: int, b: int) -> Record:
    return Record(a + b)


async def test_process_job_runs_signal_driven_logic_without_a_database():
    approved = await process_job(Charge.new({"amount": 5}), signals=[{"approved": True}])
    assert approved == Record({"charged": 5})
    declined = await process_job(Charge.new({"amount": 5}), signals=[{"approved": False}])
    assert declined == Cancel("declined")
    with pytest.raises(SignalTimeout):
        await process_job(Charge.new({"amount": 5}))  # no signal: as a deadline would


async def test_process_job_round_trips_args_through_json():
    from datetime import date

    with pytest.raises(TypeError):
        await process_job(Charge.new({"when": date.today()}), signals=[{"approved": True}])


async def test_named_signals_and_function_workers_in_process_job(wp: Waitpoint):
    result = await process_job(Ship.new({"order": 1}),
                               signals=[("shipping", "dhl"), ("payment", 42)])
    assert result == Record(42)
    assert await process_job(add.new(2, 3)) == Record(5)


async def test_assert_enqueued_and_drain_queue(wp: Waitpoint):
    await refute_enqueued(worker=Ship)
    order = await Ship.enqueue({"order": 9})
    await assert_enqueued(worker=Ship, args={"order": 9}, queue="orders")
    await refute_enqueued(worker=Ship, args={"order": 10})
    with pytest.raises(AssertionError, match="no enqueued job matches"):
        await assert_enqueued(worker=Notify)
    await wp.signal(order.id, 100, name="payment")
    await wp.signal(order.id, "ups", name="shipping")
    counts = await drain_queue("orders")
    assert counts == {"completed": 2}  # Ship, then the Notify it enqueued (recursion)
    assert await all_enqueued(queue="orders") == []
    done = await wp.get_job(order.id)
    assert done.recorded == 100


async def test_drain_counts_a_job_waiting_for_its_signal(wp: Waitpoint):
    waiting = await Ship.enqueue({"order": 3})
    assert await drain_queue("orders") == {"awaiting": 1}
    assert (await wp.get_job(waiting.id)).state == "suspended"


async def test_inline_mode_runs_jobs_at_enqueue_time(wp: Waitpoint):
    with mode("inline"):
        ran = await add.enqueue(1, 2)
        assert ran.state == "completed" and ran.recorded == 3
        failed = await Charge.enqueue({"amount": 1})  # no signal: SignalTimeout
        assert failed.state == "discarded" and "SignalTimeout" in failed.errors[0]["error"]
    await refute_enqueued(queue="orders")
