"""No lost wake-ups: signals that race with a job going to sleep must always wake it.

Each round fires the signal at the moment the job ends its (very short) live wait and
snoozes. A lost wake-up leaves the job suspended forever, which the deadline catches.
"""

from __future__ import annotations

import asyncio

import pytest

from waitpoint import Waitpoint

from ..conftest import wait_for_state
from .workers import KeyedWaiter, SoloWaiter

ROUNDS = 40


@pytest.mark.parametrize("live_wait", [0.0, 0.005])
async def test_signals_racing_a_snooze_are_never_lost(start_waitpoint, live_wait):
    wp: Waitpoint = await start_waitpoint(queues={"solo": 20, "approvals": 20})
    jobs = await wp.enqueue_many(
        [SoloWaiter.new({"wait_timeout": live_wait}, queue="solo") for _ in range(ROUNDS)])
    # Fire each signal as soon as its job has started, while it is deciding to snooze.
    for job in jobs:
        await wait_for_state(wp, job.id, "executing", "scheduled", "suspended")
    await asyncio.gather(*(wp.signal(job.id, {"n": job.id}) for job in jobs))
    for job in jobs:
        done = await wait_for_state(wp, job.id, "completed", timeout=20)
        assert done.recorded == {"n": job.id}


@pytest.mark.parametrize("live_wait", [0.0, 0.005])
async def test_keyed_signals_racing_a_waiter_are_never_lost(start_waitpoint, live_wait):
    wp: Waitpoint = await start_waitpoint(queues={"approvals": 20})
    keys = [f"race:{n}" for n in range(ROUNDS)]
    jobs = await wp.enqueue_many(
        [KeyedWaiter.new({"key": key, "wait_timeout": live_wait}) for key in keys])
    # Half the signals go out before their waiter awaits, half while it is going to sleep.
    await asyncio.gather(*(wp.signal(key=key, payload=key) for key in keys[::2]))
    for job in jobs[1::2]:
        await wait_for_state(wp, job.id, "executing", "scheduled", "suspended", "completed")
    await asyncio.gather(*(wp.signal(key=key, payload=key) for key in keys[1::2]))
    for job, key in zip(jobs, keys, strict=True):
        done = await wait_for_state(wp, job.id, "completed", timeout=20)
        assert done.recorded == key


@pytest.mark.parametrize("live_wait", [0.0, 0.005])
async def test_a_burst_of_keyed_signals_serves_one_waiter_each(start_waitpoint, live_wait):
    """Two signals for one key arrive together while one job waits on it: that job gets
    one, and the other is kept for the next job that awaits the key (not stranded on the
    first job, which finishes without consuming it)."""
    wp: Waitpoint = await start_waitpoint(queues={"approvals": 20})
    first = await KeyedWaiter.enqueue({"key": "burst", "wait_timeout": live_wait})
    await wait_for_state(wp, first.id, "suspended")  # registered on the key, asleep
    reached = await asyncio.gather(wp.signal(key="burst", payload="one"),
                                   wp.signal(key="burst", payload="two"))
    assert sorted(map(len, reached)) == [0, 1]  # one delivered, one kept on the key
    done = await wait_for_state(wp, first.id, "completed", timeout=20)
    second = await KeyedWaiter.enqueue({"key": "burst", "wait_timeout": live_wait})
    later = await wait_for_state(wp, second.id, "completed", timeout=20)
    assert sorted([done.recorded, later.recorded]) == ["one", "two"]
