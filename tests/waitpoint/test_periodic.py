"""Function workers and periodic jobs, against a real PostgreSQL and real clocks."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from waitpoint import Record, Waitpoint, await_signal, job, worker
from waitpoint._cron import CronScheduler, _entries, unregister_cron

from ..conftest import wait_for_state, wait_until

calls: list[tuple[str, str]] = []


@job(queue="default")
async def send_email(to: str, subject: str = "hello") -> str:
    calls.append((to, subject))
    return f"sent to {to}"


@job(queue="default")
async def wait_for_receipt(order: int) -> Record:
    receipt = await await_signal(name="receipt", wait_timeout=0)
    return Record({"order": order, "receipt": receipt})


async def test_a_function_worker_takes_its_arguments_by_name(wp: Waitpoint):
    new = send_email.new("a@example.com", subject="hi", priority=3)
    assert new.args == {"to": "a@example.com", "subject": "hi"} and new.priority == 3
    enqueued = await send_email.enqueue("b@example.com")
    assert enqueued.args == {"to": "b@example.com", "subject": "hello"}
    await wait_for_state(wp, enqueued.id, "completed")
    assert ("b@example.com", "hello") in calls
    with pytest.raises(TypeError):
        send_email.new()  # `to` is required, as when calling the function


async def test_a_function_worker_can_wait_for_a_signal(wp: Waitpoint):
    enqueued = await wait_for_receipt.enqueue(7)
    await wait_for_state(wp, enqueued.id, "suspended")
    await wp.signal(enqueued.id, "r-1", name="receipt")
    done = await wait_for_state(wp, enqueued.id, "completed")
    assert done.recorded == {"order": 7, "receipt": "r-1"}


def test_invalid_schedules_fail_at_import_naming_the_worker():
    with pytest.raises(ValueError,
                       match=r"worker .*Broken: invalid cron expression '61 \* \* \* \*'"):
        @worker(queue="cron", cron="61 * * * *")
        class Broken:
            async def process(self, job):
                return None
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        @worker(queue="cron", cron="@daily", timezone="Mars/Olympus")
        class Elsewhere:
            async def process(self, job):
                return None
    with pytest.raises(TypeError, match="clash with job options"):
        @job()
        async def clashing(queue: str) -> None:
            return None


@pytest.fixture
def every_second():
    """A cron worker due every second (croniter's sixth field), forgotten afterwards."""

    @worker(queue="cron", cron="* * * * * *", cron_args={"kind": "tick"})
    class Tick:
        async def process(self, job):
            return None

    yield Tick.__waitpoint_worker__
    unregister_cron(Tick.__waitpoint_worker__)


async def _slots(wp: Waitpoint, worker_name: str) -> list:
    return await wp.pool.fetch(
        f"SELECT c.slot, c.job_id, j.args, j.meta FROM {wp.schema}.cron_slots c "
        f"LEFT JOIN {wp.schema}.jobs j ON j.id = c.job_id WHERE c.worker = $1 ORDER BY slot",
        worker_name)


async def test_two_nodes_insert_each_slot_once_across_a_failover(start_waitpoint,
                                                                 every_second):
    first = await start_waitpoint(queues={}, cron_interval=0.2, leader_interval=0.3, node="a")
    second = await start_waitpoint(queues={}, cron_interval=0.2, leader_interval=0.3, node="b")
    assert first.is_leader != second.is_leader
    await wait_until(lambda: _at_least(first, every_second, 3), timeout=15,
                     message="three slots")
    leader = first if first.is_leader else second
    other = second if leader is first else first
    await leader.stop()  # resigns: the other takes over within a leader interval
    before = len(await _slots(other, every_second))
    await wait_until(lambda: _at_least(other, every_second, before + 3), timeout=15,
                     message="slots after the failover")
    rows = await _slots(other, every_second)
    slots = [row["slot"] for row in rows]
    assert len(slots) == len(set(slots))
    assert all(row["job_id"] is not None for row in rows)
    jobs = await other.pool.fetchval(
        f"SELECT count(*) FROM {other.schema}.jobs WHERE worker = $1", every_second)
    assert jobs == len(rows)  # one job per slot, never two
    assert rows[-1]["args"] == '{"kind": "tick"}'
    # Consecutive seconds: nothing missed while a node led (the failover gap excepted).
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    assert sum(1 for gap in gaps if gap > 1) <= 1


async def _at_least(wp: Waitpoint, worker_name: str, count: int) -> bool:
    return len(await _slots(wp, worker_name)) >= count


async def test_two_leaders_at_once_still_insert_a_slot_once(start_waitpoint, every_second):
    """The database decides: even two schedulers that both believe they lead (a failover
    seen late) insert each slot once."""
    wp = await start_waitpoint(queues={})
    entry = _entries[every_second]
    schedulers = [CronScheduler(pool=wp.pool, query=wp.query, is_leader=lambda: True,
                                interval=1, entries=lambda: [entry]) for _ in range(2)]
    for _ in range(3):
        await asyncio.gather(*(scheduler.run_once() for scheduler in schedulers))
        await asyncio.sleep(0)  # both compute the same due slots from the same clock
    rows = await _slots(wp, every_second)
    assert len({row["slot"] for row in rows}) == len(rows) >= 1


async def test_a_missed_slot_is_skipped_unless_the_worker_backfills(start_waitpoint):
    @worker(queue="cron", cron="* * * * * *", backfill=True)
    class Backfilled:
        async def process(self, job):
            return None

    name = Backfilled.__waitpoint_worker__
    try:
        # No leadership of its own: only the schedulers made here insert (its own duty,
        # kicked when it is elected, would race them).
        wp = await start_waitpoint(queues={}, peer=False)
        await wp.pool.execute(f"INSERT INTO {wp.schema}.cron_slots (worker, slot) "
                              "VALUES ($1, date_trunc('second', now()) - interval '5 s')", name)
        scheduler = CronScheduler(pool=wp.pool, query=wp.query, is_leader=lambda: True,
                                  interval=1, entries=lambda: [_entries[name]])
        await scheduler.run_once()
        backfilled = await _slots(wp, name)
        assert len(backfilled) >= 6  # the recorded slot and every second since
        _entries[name] = _entries[name].__class__(**{**_entries[name].__dict__,
                                                     "backfill": False})
        fresh = CronScheduler(pool=wp.pool, query=wp.query, is_leader=lambda: True,
                              interval=1, entries=lambda: [_entries[name]])
        await wp.pool.execute(f"DELETE FROM {wp.schema}.cron_slots")
        await wp.pool.execute(f"INSERT INTO {wp.schema}.cron_slots (worker, slot) "
                              "VALUES ($1, date_trunc('second', now()) - interval '5 s')", name)
        await fresh.run_once()
        assert len(await _slots(wp, name)) == 2  # the old one and the latest slot only
    finally:
        unregister_cron(name)
