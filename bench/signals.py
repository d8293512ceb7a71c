"""Signal latency and waiting at scale, with DBOS send/recv as the peer, same PostgreSQL, same run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/signals.py latency --samples 300 [--database-url URL]
    .venv/bin/python bench/signals.py scale --waiting 100000 --fanout 10000

latency: (a) live resume: signal() to await_signal() returning, in a job that is waiting in
         place; the same for DBOS send_async() to recv_async() returning in a workflow;
         (b) snoozed resume: signal() to await_signal() returning in a job that had
         snoozed (left its worker slot) and is fetched and re-run.
scale:   N jobs snoozed in await_signal (really executed, not inserted as such: enqueued
         first, then one node with a queue of 50 fetches, runs and snoozes them all,
         reported as snoozes per second; target >= 10,000/s): the worker's
         memory, the claim and stage statements against an empty table and against N waiting
         jobs, and one keyed signal fanned out to M of them.

Each system runs in its own child process and database. Targets: live p50 < 3 ms,
p99 < 15 ms; snoozed p50 < 50 ms; memory flat; claim/stage cost unchanged; fan-out < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
from _common import recreate_database


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": pick(0.50) * 1000, "p99_ms": pick(0.99) * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}


async def wait_until(predicate, timeout: float = 60.0, interval: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(interval)


# --- waitpoint ----------------------------------------------------------------------------

async def waitpoint_latency(url: str, samples: int) -> dict[str, dict[str, float]]:
    from waitpoint import Waitpoint, await_signal, worker
    from waitpoint.schema import migrate

    resumed: dict[int, float] = {}

    @worker(queue="bench")
    class Waiter:
        async def process(self, job):
            await await_signal(wait_timeout=job.args["wait_timeout"])
            resumed[job.id] = time.perf_counter()

    conn = await asyncpg.connect(url)
    await migrate(conn, "waitpoint")
    await conn.close()
    results = {}
    async with Waitpoint(url, queues={"bench": 10}) as wp:
        notifier = wp._notifier
        assert notifier is not None
        for mode, wait_timeout in (("live", 30.0), ("snoozed", 0.0)):
            latencies = []
            for _ in range(samples):
                job = await Waiter.enqueue({"wait_timeout": wait_timeout})
                if mode == "live":
                    await wait_until(lambda j=job: _registered(notifier, j.id))
                else:
                    await wait_until(lambda j=job: _state_is(wp, j.id, "suspended"))
                started = time.perf_counter()
                await wp.signal(job.id, {"decision": "approved"})
                await wait_until(lambda j=job: _resumed(resumed, j.id), interval=0.0001)
                latencies.append(resumed[job.id] - started)
            results[mode] = percentiles(latencies)
    return results


async def _registered(notifier, job_id: int) -> bool:
    return job_id in notifier._waiters


async def _state_is(wp, job_id: int, state: str) -> bool:
    job = await wp.get_job(job_id)
    return job is not None and job.state == state


async def _resumed(resumed: dict[int, float], job_id: int) -> bool:
    return job_id in resumed


async def waitpoint_scale(url: str, waiting: int, fanout: int) -> dict[str, float]:
    import psutil

    from waitpoint import Waitpoint, await_signal, worker
    from waitpoint.schema import migrate

    @worker(queue="bench")
    class KeyedWaiter:
        async def process(self, job):
            await await_signal(key=job.args["key"], wait_timeout=0)

    conn = await asyncpg.connect(url)
    await migrate(conn, "waitpoint")
    process = psutil.Process()
    report: dict[str, float] = {}
    # Enqueued before any worker runs, so that the clock measures entering the wait alone:
    # fetch, run until await_signal(), unwind, and the batched snooze commits.
    async with Waitpoint.client(url) as client:
        report["claim_empty_ms"], report["stage_empty_ms"] = await _duty_costs(conn, client)
        gc.collect()
        report["rss_idle_mib"] = process.memory_info().rss / 2**20
        groups = max(1, waiting // fanout)
        for start in range(0, waiting, 5000):
            await client.enqueue_many([KeyedWaiter.new({"key": f"fan:{n % groups}"})
                                       for n in range(start, min(waiting, start + 5000))])
    async with Waitpoint(url, queues={"bench": 50}) as wp:
        started = time.perf_counter()
        await wait_until(lambda: _count_suspended(conn, waiting), timeout=900, interval=0.2)
        report["snooze_all_s"] = time.perf_counter() - started
        report["snoozes_per_s"] = waiting / report["snooze_all_s"]
        gc.collect()
        report["rss_waiting_mib"] = process.memory_info().rss / 2**20
        report["claim_waiting_ms"], report["stage_waiting_ms"] = await _duty_costs(conn, wp)
        started = time.perf_counter()
        reached = await wp.signal(key="fan:0", payload={"go": True})
        report["fanout_signal_s"] = time.perf_counter() - started
        report["fanout_reached"] = len(reached)
        await wait_until(lambda: _count_completed(conn, len(reached)), timeout=600, interval=0.05)
        report["fanout_all_resumed_s"] = time.perf_counter() - started
    await conn.close()
    return report


async def _count_suspended(conn, expected: int) -> bool:
    return await conn.fetchval(
        "SELECT count(*) FROM waitpoint.jobs WHERE state = 'suspended'") >= expected


async def _count_completed(conn, expected: int) -> bool:
    return await conn.fetchval(
        "SELECT count(*) FROM waitpoint.jobs WHERE state = 'completed'") >= expected


async def _duty_costs(conn, wp) -> tuple[float, float]:
    """Median time of the claim statement on an empty queue and of the stager."""
    claim, stage = [], []
    for _ in range(200):
        started = time.perf_counter()
        await wp.query.ack_and_fetch_jobs(conn, queue="empty-queue", demand=10, node="bench",
                                          producer=uuid.UUID(int=0), acks=[])
        claim.append(time.perf_counter() - started)
        started = time.perf_counter()
        await wp.query.stage_jobs(conn, limit=5000)
        stage.append(time.perf_counter() - started)
    return statistics.median(claim) * 1000, statistics.median(stage) * 1000


# --- DBOS ---------------------------------------------------------------------------------

async def dbos_latency(url: str, samples: int) -> dict[str, dict[str, float]]:
    from dbos import DBOS

    DBOS(config={"name": "waitpoint-bench", "system_database_url": url})
    resumed: dict[str, float] = {}

    @DBOS.workflow()
    async def waiter() -> None:
        await DBOS.recv_async("decision", timeout_seconds=60)
        resumed[DBOS.workflow_id] = time.perf_counter()

    DBOS.launch()
    latencies = []
    try:
        for _ in range(samples):
            handle = await DBOS.start_workflow_async(waiter)
            # recv registers its wait inside the workflow; give it the moment it needs.
            await asyncio.sleep(0.02)
            started = time.perf_counter()
            await DBOS.send_async(handle.workflow_id, {"decision": "approved"}, "decision")
            await handle.get_result()
            latencies.append(resumed[handle.workflow_id] - started)
    finally:
        DBOS.destroy()
    return {"live": percentiles(latencies)}


# --- the parent ---------------------------------------------------------------------------

def run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env={**os.environ, "WAITPOINT_LOG_LEVEL": "WARNING"})
    if out.returncode != 0:
        sys.exit(f"child {args[:2]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["latency", "scale"])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--fanout", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "waitpoint-latency":
            result = asyncio.run(waitpoint_latency(args.database_url, args.samples))
        elif args.child == "dbos-latency":
            result = asyncio.run(dbos_latency(args.database_url, args.samples))
        else:
            result = asyncio.run(waitpoint_scale(args.database_url, args.waiting, args.fanout))
        print(json.dumps(result))
        return

    from waitpoint._database import resolve_database_url

    base = resolve_database_url(args.database_url)
    common = ["--samples", str(args.samples), "--waiting", str(args.waiting),
              "--fanout", str(args.fanout)]
    if args.mode == "latency":
        url = asyncio.run(recreate_database(base, "bench_signals_waitpoint"))
        ours = run_child(["latency", "--child", "waitpoint-latency", "--database-url", url,
                          *common])
        url = asyncio.run(recreate_database(base, "bench_signals_dbos"))
        peer = run_child(["latency", "--child", "dbos-latency", "--database-url", url, *common])
        print(f"{args.samples} samples each, same PostgreSQL:")
        for label, figures in (("waitpoint live", ours["live"]),
                               ("DBOS send/recv", peer["live"]),
                               ("waitpoint snoozed", ours["snoozed"])):
            print(f"  {label:<18} p50 {figures['p50_ms']:7.2f} ms   "
                  f"p99 {figures['p99_ms']:7.2f} ms")
        print(f"  live p50 ratio DBOS / waitpoint = "
              f"{peer['live']['p50_ms'] / ours['live']['p50_ms']:.1f}x")
    else:
        url = asyncio.run(recreate_database(base, "bench_signals_scale"))
        report = run_child(["scale", "--child", "scale", "--database-url", url, *common])
        for key, value in report.items():
            print(f"  {key:<22} {value:10.2f}")
        claim = report["claim_waiting_ms"] / report["claim_empty_ms"]
        stage = report["stage_waiting_ms"] / report["stage_empty_ms"]
        memory = report["rss_waiting_mib"] / report["rss_idle_mib"]
        print(f"  claim cost waiting/empty = {claim:.2f}, stage cost waiting/empty = {stage:.2f}, "
              f"memory waiting/idle = {memory:.2f}")


if __name__ == "__main__":
    main()
