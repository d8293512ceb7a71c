"""Workflow status cost and dependency hand-off latency.

    .venv/bin/python bench/workflows.py [--steps 10000] [--chains 200] [--database-url URL]

(a) status() of a workflow of 1 job and of N jobs: same order expected (one lookup in the
    aggregate table, not a scan of the jobs).
(b) a step completing to its dependent starting, measured on the database clock
    (dependent.attempted_at - dependency.completed_at) over many two-step workflows run
    one at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from _common import recreate_database

from waitpoint import Waitpoint, Workflow, worker


@worker(queue="bench")
class Step:
    async def process(self, job):
        return None


async def status_cost(wp: Waitpoint, workflow: Workflow, rounds: int = 300) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await workflow.status()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def main(url: str, steps: int, chains: int) -> None:
    async with Waitpoint(url, queues={}, migrate=True, peer=False) as wp:
        small = Workflow().add("only", Step.new({}))
        await wp.enqueue_many(small)
        large = Workflow()
        for n in range(steps):
            large.add(f"s{n}", Step.new({}))
        started = time.perf_counter()
        await wp.enqueue_many(large)
        inserted_in = time.perf_counter() - started
        one = await status_cost(wp, small)
        many = await status_cost(wp, large)
        print(f"status() median: 1 job {one:.3f} ms, {steps} jobs {many:.3f} ms "
              f"(ratio {many / one:.2f}); inserting {steps} steps took {inserted_in:.2f} s")

    async with Waitpoint(url, queues={"bench": 10}, stage_interval=1.0) as wp:
        # One chain at a time, so that the dependent never queues behind other work.
        workflows = []
        for _ in range(chains):
            workflow = Workflow().add("a", Step.new({})).add("b", Step.new({}), deps="a")
            _, second = await wp.enqueue_many(workflow)
            deadline = time.monotonic() + 30
            while (await wp.get_job(second.id)).state != "completed":
                if time.monotonic() > deadline:
                    raise TimeoutError("the dependent step did not run")
                await asyncio.sleep(0.001)
            workflows.append(workflow)
        rows = await wp.pool.fetch(
            "SELECT extract(epoch FROM b.attempted_at - a.completed_at) AS gap"
            " FROM waitpoint.jobs a JOIN waitpoint.jobs b"
            " ON a.workflow_id = b.workflow_id AND a.step = 'a' AND b.step = 'b'"
            " WHERE a.workflow_id = ANY($1)", [w.id for w in workflows])
        gaps = sorted(float(r["gap"]) * 1000 for r in rows)
        print(f"dependency hand-off over {len(gaps)} workflows: p50 "
              f"{gaps[len(gaps) // 2]:.2f} ms, p99 {gaps[int(len(gaps) * 0.99)]:.2f} ms")


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    from waitpoint._database import resolve_database_url

    url = asyncio.run(recreate_database(resolve_database_url(args.database_url),
                                        "bench_workflows"))
    asyncio.run(main(url, args.steps, args.chains))


if __name__ == "__main__":
    cli()
