"""Trivial-job throughput: waitpoint against pgqueuer and procrastinate, same PostgreSQL, same run.

Each system gets its own database on one server. A round enqueues N no-op jobs in one call,
then one fresh worker process drains them (timed, until the last job is acknowledged).
Rounds are interleaved so machine noise hits every system alike; medians are reported. The
enqueue of each round is timed too: all N jobs in one call (enqueue_many, enqueue,
batch_defer).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/throughput.py --jobs 10000 --rounds 3 [--database-url URL]
        [--concurrency 20] [--loop uvloop|asyncio]

Peers are set up for throughput as their own material recommends, at the same total
concurrency:
- pgqueuer: its own benchmark (tools/benchmark.py, drain strategy) runs several dequeuers,
  each a QueueManager on its own asyncpg connection with a batch size of 10, under uvloop;
  here concurrency / 10 dequeuers of batch 10, bulk enqueue with Queries.enqueue(lists).
- procrastinate: one worker with `concurrency=N` (its documented knob for parallel jobs in
  one process), LISTEN/NOTIFY on (the default), bulk defer with batch_defer_async.
- waitpoint: one node, one queue of limit N, bulk enqueue with enqueue_many.
Every system runs on the same event loop (--loop, default uvloop as pgqueuer's benchmark
does, when it is installed). The versions are printed with the results.

Prints jobs/s per system and waitpoint's ratio to the best peer (targets: drain >= 1.5,
one-call enqueue >= 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import asyncpg
from _common import recreate_database

SYSTEMS = ("waitpoint", "pgqueuer", "procrastinate")
FULL_JOBS_SECONDS: list[float] = []
"""waitpoint's enqueue_many returning Job objects (the default), timed beside ids_only."""


# --- one round of one system, in a child process ----------------------------------------

async def round_waitpoint(url: str, jobs: int, concurrency: int) -> tuple[float, float]:
    from waitpoint import Waitpoint, worker
    from waitpoint.schema import migrate

    done = asyncio.Event()
    count = 0

    @worker(queue="bench")
    class Noop:
        async def process(self, job):
            nonlocal count
            count += 1
            if count == jobs:
                done.set()

    conn = await asyncpg.connect(url)
    await migrate(conn, "waitpoint")
    await conn.close()
    async with Waitpoint(url, queues={}) as inserter:
        # Returning full Job objects, to a queue nobody drains: reported on its own.
        new_jobs = [Noop.new({"n": n}, queue="not-drained") for n in range(jobs)]
        started = time.perf_counter()
        await inserter.enqueue_many(new_jobs)
        FULL_JOBS_SECONDS.append(time.perf_counter() - started)
        # Returning ids, as pgqueuer's enqueue and procrastinate's batch_defer do.
        new_jobs = [Noop.new({"n": n}) for n in range(jobs)]
        started = time.perf_counter()
        await inserter.enqueue_many(new_jobs, ids_only=True)  # one call: "bulk enqueue"
        enqueued = time.perf_counter() - started
    started = time.perf_counter()
    async with Waitpoint(url, queues={"bench": concurrency}, peer=False) as runner:
        await done.wait()
        # Timed until the last outcome is committed, as for the peers.
        while await runner.pool.fetchval(
                "SELECT count(*) FROM waitpoint.jobs WHERE state = 'completed'") < jobs:
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
    return enqueued, elapsed


async def round_pgqueuer(url: str, jobs: int, concurrency: int) -> tuple[float, float]:
    from pgqueuer import AsyncpgDriver, QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(url)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    started = time.perf_counter()
    await queries.enqueue(["noop"] * jobs, [None] * jobs, [0] * jobs)
    enqueued = time.perf_counter() - started
    await conn.close()

    connections = [await asyncpg.connect(url) for _ in range(max(1, concurrency // 10))]
    managers = [QueueManager(Queries(AsyncpgDriver(c))) for c in connections]
    for manager in managers:
        @manager.entrypoint("noop")
        async def noop(job) -> None:
            return None

    started = time.perf_counter()
    await asyncio.gather(*(manager.run(mode=QueueExecutionMode.drain,
                                       batch_size=min(10, concurrency))
                           for manager in managers))
    elapsed = time.perf_counter() - started
    for c in connections:
        await c.close()
    return enqueued, elapsed


async def round_procrastinate(url: str, jobs: int, concurrency: int) -> tuple[float, float]:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(queue="bench", name="noop")
    async def noop(n: int) -> None:
        return None

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        started = time.perf_counter()
        await noop.batch_defer_async(*({"n": n} for n in range(jobs)))
        enqueued = time.perf_counter() - started
        started = time.perf_counter()
        await app.run_worker_async(queues=["bench"], concurrency=concurrency, wait=False,
                                   install_signal_handlers=False)
        elapsed = time.perf_counter() - started
    return enqueued, elapsed


ROUNDS = {"waitpoint": round_waitpoint, "pgqueuer": round_pgqueuer,
          "procrastinate": round_procrastinate}


def child(system: str, url: str, jobs: int, concurrency: int, loop: str) -> None:
    if loop == "uvloop":
        import uvloop

        enqueued, elapsed = uvloop.run(ROUNDS[system](url, jobs, concurrency))
    else:
        enqueued, elapsed = asyncio.run(ROUNDS[system](url, jobs, concurrency))
    print(json.dumps({"system": system, "seconds": elapsed, "enqueue_seconds": enqueued,
                      "full_jobs_seconds": FULL_JOBS_SECONDS[0] if FULL_JOBS_SECONDS else None}))


# --- the parent: interleaved rounds and the report --------------------------------------

def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


async def prepare(base: str, system: str) -> str:
    return await recreate_database(base, f"bench_{system}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"),
                        default="uvloop" if _installed("uvloop") else "asyncio")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        child(args.child, args.database_url, args.jobs, args.concurrency, args.loop)
        return

    from waitpoint._database import resolve_database_url

    base = resolve_database_url(args.database_url)
    systems = args.systems.split(",")
    print("versions: " + ", ".join(f"{name} {_version(name)}" for name in
                                   ("waitpoint", *systems[1:], "asyncpg", args.loop)
                                   if name != "asyncio") + f"; event loop: {args.loop}")
    drain: dict[str, list[float]] = {system: [] for system in systems}
    enqueue: dict[str, list[float]] = {system: [] for system in systems}
    full_jobs: list[float] = []
    for round_number in range(1, args.rounds + 1):
        for system in systems:
            url = asyncio.run(prepare(base, system))
            out = subprocess.run(
                [sys.executable, __file__, "--child", system, "--database-url", url,
                 "--jobs", str(args.jobs), "--concurrency", str(args.concurrency),
                 "--loop", args.loop],
                capture_output=True, text=True,
            )
            if out.returncode != 0:
                sys.exit(f"{system} round failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            drain[system].append(args.jobs / result["seconds"])
            enqueue[system].append(args.jobs / result["enqueue_seconds"])
            if result.get("full_jobs_seconds"):
                full_jobs.append(args.jobs / result["full_jobs_seconds"])
            print(f"round {round_number}  {system:<14} drain {drain[system][-1]:8.0f} jobs/s"
                  f"   enqueue (one call) {enqueue[system][-1]:8.0f} jobs/s", flush=True)

    print(f"\nmedians of {args.rounds} rounds, {args.jobs} jobs, concurrency {args.concurrency}:")
    for system in systems:
        print(f"  {system:<14} drain {statistics.median(drain[system]):8.0f} jobs/s   "
              f"enqueue {statistics.median(enqueue[system]):8.0f} jobs/s")
    if full_jobs:
        print(f"  waitpoint enqueue_many returning Job objects (not ids): "
              f"{statistics.median(full_jobs):8.0f} jobs/s")
    peers = [s for s in systems if s != "waitpoint"]
    if "waitpoint" in systems and peers:
        best_drain = max(statistics.median(drain[s]) for s in peers)
        best_enqueue = max(statistics.median(enqueue[s]) for s in peers)
        print(f"  waitpoint / best peer: drain "
              f"{statistics.median(drain['waitpoint']) / best_drain:.2f} (target >= 1.5), "
              f"enqueue {statistics.median(enqueue['waitpoint']) / best_enqueue:.2f} "
              "(target >= 1)")


if __name__ == "__main__":
    main()
