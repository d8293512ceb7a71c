"""The worker side's Prometheus metrics, scraped over HTTP from `waitpoint work`."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from waitpoint import Waitpoint

from ..conftest import wait_for_state, wait_until
from ..ports import free_port
from .workers import Complete, Outcome, SoloWaiter

ROOT = Path(__file__).resolve().parents[2]


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def _value(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_work_serves_outcomes_durations_depth_waits_and_signals(
        start_waitpoint, schema, database_url):
    client: Waitpoint = await start_waitpoint(queues={}, peer=False)  # the node leads
    port = free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "waitpoint.cli", "work", "--import", "tests.waitpoint.workers",
         "--queues", "default=5,solo=2", "--schema", schema, "--database-url", database_url,
         "--metrics-port", str(port)],
        cwd=ROOT, env={**os.environ, "WAITPOINT_METRICS_INTERVAL": "0.2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = await client.enqueue(Complete.new({"value": 1}))
        failed = await client.enqueue(Outcome.new({"outcome": "cancel"}))
        waiting = await client.enqueue(SoloWaiter.new({"wait_timeout": 0}))
        await wait_for_state(client, done.id, "completed", timeout=30)
        await wait_for_state(client, failed.id, "cancelled")
        await wait_for_state(client, waiting.id, "suspended")
        complete = 'waitpoint_jobs_total{outcome="completed",queue="default",' \
                   'worker="tests.waitpoint.workers.Complete"}'

        async def scraped() -> str:
            text = _scrape(port)
            ready = (_value(text, complete) == 1 and _value(text, "waitpoint_waiting_jobs ") == 1
                     and 'waitpoint_queue_jobs{queue="solo",state="suspended"} 1.0' in text)
            return text if ready else ""

        text = await wait_until(scraped, timeout=20, message="the metrics")
        assert _value(text, 'waitpoint_jobs_total{outcome="cancelled"') == 1
        assert _value(text, 'waitpoint_jobs_total{outcome="awaiting",queue="solo"') == 1
        assert "waitpoint_job_duration_seconds_bucket" in text
        assert _value(text, "waitpoint_oldest_wait_seconds ") >= 0
        await client.signal(waiting.id, "go")
        await wait_for_state(client, waiting.id, "completed")
        await wait_until(lambda: _consumed(port), message="the consumed signal counted")
    finally:
        node.terminate()
        node.wait(30)


async def _consumed(port: int) -> bool:
    return _value(_scrape(port), "waitpoint_signals_consumed_total ") == 1


async def test_the_leader_keeps_its_depth_sample_in_the_database(start_waitpoint, db, schema):
    await start_waitpoint(queues={}, metrics_interval=0.1)
    await Complete.enqueue({}, schedule_in=3600)

    async def sampled():
        rows = await db.fetch(f"SELECT queue, state, jobs FROM {schema}.queue_samples")
        return [tuple(row) for row in rows] == [("default", "scheduled", 1)]

    await wait_until(sampled, timeout=10)
    assert await db.fetchval(f"SELECT waiting FROM {schema}.wait_samples") == 0


async def test_queue_depth_counts_now_what_the_leader_samples(start_waitpoint):
    wp = await start_waitpoint(queues={"solo": 1})
    await Complete.enqueue({}, schedule_in=3600)
    waiter = await SoloWaiter.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, waiter.id, "suspended")
    depth = await wp.queue_depth()
    assert sorted(depth.queues) == [("default", "scheduled", 1), ("solo", "suspended", 1)]
    assert depth.waits.waiting == 1 and depth.waits.oldest_since is not None
    assert depth.waits.nearest_deadline is None  # waits without a deadline
