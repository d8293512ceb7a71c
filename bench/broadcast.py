"""One workflow broadcast waking many waiting steps.

    .venv/bin/python bench/broadcast.py --steps 10000 [--rounds 3] [--database-url URL]

Each round: a fresh workflow of N steps, each awaiting the workflow signal "approved"
(`await_signal(name="approved", scope="workflow", wait_timeout=0)`), run by one node until
all N have snoozed; then one `workflow.broadcast("approved", ...)`. Reported per round:
the broadcast call itself (it sets the value and wakes every step in its transaction),
until every step is awake (available, or already running or done), and until every step
has completed with the value. Target: every step awake in under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

import asyncpg
from _common import recreate_database


async def count(conn: asyncpg.Connection, workflow_id: int, states: tuple[str, ...]) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM waitpoint.jobs WHERE workflow_id = $1 AND state::text = ANY($2)",
        workflow_id, list(states)))


async def until(conn: asyncpg.Connection, workflow_id: int, states: tuple[str, ...],
                expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await count(conn, workflow_id, states) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all {expected} steps reached {states}")
        await asyncio.sleep(0.005)


async def run(base: str, steps: int, rounds: int) -> list[dict[str, float]]:
    from waitpoint import Record, Waitpoint, Workflow, await_signal, worker
    from waitpoint.schema import migrate

    @worker(queue="review")
    class Reviewer:
        async def process(self, job):
            return Record(await await_signal(name="approved", scope="workflow",
                                             wait_timeout=0))

    url = await recreate_database(base, "bench_broadcast")
    conn = await asyncpg.connect(url)
    await migrate(conn, "waitpoint")
    results = []
    async with Waitpoint(url, queues={"review": 100}) as wp:
        for _ in range(rounds):
            workflow = Workflow()
            for n in range(steps):
                workflow.add(f"review-{n}", Reviewer.new({}))
            await wp.enqueue_many(workflow)
            assert workflow.id is not None
            await until(conn, workflow.id, ("suspended",), steps, timeout=600)
            started = time.perf_counter()
            reached = await workflow.broadcast("approved", {"by": "bench"})
            call = time.perf_counter() - started
            assert reached == [workflow.id]
            await until(conn, workflow.id, ("available", "executing", "completed"), steps, 60)
            awake = time.perf_counter() - started
            await until(conn, workflow.id, ("completed",), steps, timeout=600)
            done = time.perf_counter() - started
            results.append({"call_s": call, "awake_s": awake, "completed_s": done})
            print(f"broadcast to {steps} waiting steps: call {call:.3f} s, all awake "
                  f"{awake:.3f} s, all completed {done:.2f} s", flush=True)
    await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    os.environ.setdefault("WAITPOINT_LOG_LEVEL", "WARNING")
    from waitpoint._database import resolve_database_url

    results = asyncio.run(run(resolve_database_url(args.database_url), args.steps,
                              args.rounds))
    awake = statistics.median(r["awake_s"] for r in results)
    print(f"\nmedian of {len(results)} rounds: call "
          f"{statistics.median(r['call_s'] for r in results):.3f} s, all awake {awake:.3f} s "
          f"(target < 1 s), all completed "
          f"{statistics.median(r['completed_s'] for r in results):.2f} s")
    sys.exit(0)


if __name__ == "__main__":
    main()
