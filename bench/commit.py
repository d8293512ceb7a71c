"""The commit path alone: what PostgreSQL pays per event for the inbox's group commit,
against the durable floor's one INSERT of the raw event, same database, same session.

    .venv/bin/python bench/commit.py [--database-url URL] [--batch 32] [--batches 200]
        [--rounds 3] [--parts]

A fresh database; 30,000 jobs waiting for a signal (snoozed, as await_signal leaves them).
Each round commits `--batches` group commits of `--batch` events, each event routed to its
own waiting job (so every event stores a signal and wakes a job), one connection, one batch
after another; then the same number of events through the floor's INSERT. Printed per
round: wall time and PostgreSQL CPU per event for both, and the ratio. Round 1 runs on the
freshly created tables (nothing analyzed yet), so it is reported on its own: the cold case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time

import asyncpg
import erlpack
from _common import (
    FLOOR_INSERT,
    FLOOR_SCHEMA,
    enqueue_waiting,
    postgres_cpu,
    recreate_database,
)

PARTS = {
    # The statements of ingest_batch() one at a time, on the same kind of batch: what
    # each costs PostgreSQL (run with --parts). Locking and signalling are the engine's
    # functions (engine migration 016), as ingest_batch() calls them.
    "lock the jobs": "SELECT waitpoint.lock_signal_targets($1::bigint[])",
    "insert the events": """INSERT INTO waitpoint.events (source, delivery_id, method, path,
        query, headers, body, outcome, errors, signals)
        SELECT s, d, 'POST', '/webhooks/stripe', '{}', h::jsonb, b, 'routed', '[]', '[]'
        FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[]) AS t(s, d, h, b)""",
    "signal and wake": """SELECT waitpoint.signal_job_batch($6::bytea[],
        array_fill(NULL::text, ARRAY[cardinality($1::bigint[])]),
        array_fill('event:1'::text, ARRAY[cardinality($1::bigint[])]),
        ARRAY(SELECT generate_series(1, cardinality($1::bigint[])))::integer[], $1::bigint[])""",
}
WAITING_JOBS = 30_000
HEADERS = {
    "host": "127.0.0.1:8080", "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "content-type": "application/json; charset=utf-8", "accept": "*/*; q=0.5",
    "cache-control": "no-cache", "content-length": "740",
    "stripe-signature": "[redacted]", "accept-encoding": "gzip",
}


def records(job_ids: list[int], tag: str) -> list:
    import routing
    from ingest.events import Delivery, EventRecord

    made = []
    for n, job_id in enumerate(job_ids):
        delivery_id = f"evt_{tag}_{n}"
        body = json.dumps({"id": delivery_id, "type": "payment_intent.succeeded",
                           "data": {"object": {"amount": n, "currency": "eur",
                                               "metadata": {"job_id": str(job_id)}}},
                           "padding": "x" * 500}).encode()
        payload = erlpack.pack({"decision": "approved", "amount": n})
        made.append(EventRecord(
            source="stripe", delivery_id=delivery_id, body=body, outcome="routed",
            path="/webhooks/stripe", headers=HEADERS,
            deliveries=(Delivery("approved", routing.JobTarget((job_id,)), payload),)))
    return made


async def prepare(base: str) -> tuple[str, list[int]]:
    from ingest.receiver_sql import RECEIVER_TRACKS
    from waitpoint.schema import migrate

    url = await recreate_database(base, "bench_commit")
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, "waitpoint", RECEIVER_TRACKS)
        await conn.execute(FLOOR_SCHEMA)
    finally:
        await conn.close()
    return url, await enqueue_waiting(url, WAITING_JOBS)


async def measure(url: str, job_ids: list[int], batch: int, batches: int,
                  round_number: int) -> dict[str, float]:
    from ingest.receiver_sql import InboxQuery

    query = InboxQuery("waitpoint")
    count = batch * batches
    start = (round_number - 1) * count
    events = records(job_ids[start:start + count], f"r{round_number}_{time.time_ns()}")
    conn = await asyncpg.connect(url)
    try:
        cpu, wall = postgres_cpu(), time.perf_counter()
        for first in range(0, count, batch):
            async with conn.transaction():
                await query.ingest_batch(conn, events[first:first + batch])
        receiver = ((time.perf_counter() - wall) / count * 1e6,
                    (postgres_cpu() - cpu) / count * 1e6)
        cpu, wall = postgres_cpu(), time.perf_counter()
        for first in range(0, count, batch):
            chunk = events[first:first + batch]
            async with conn.transaction():
                await conn.execute(FLOOR_INSERT, [e.delivery_id for e in chunk],
                                   [e.body for e in chunk])
        floor = ((time.perf_counter() - wall) / count * 1e6,
                 (postgres_cpu() - cpu) / count * 1e6)
    finally:
        await conn.close()
    return {"receiver_wall_us": receiver[0], "receiver_pg_us": receiver[1],
            "floor_wall_us": floor[0], "floor_pg_us": floor[1]}


async def measure_parts(url: str, batch: int, batches: int) -> None:
    """Each part on its own fresh jobs: PostgreSQL CPU per event."""
    conn = await asyncpg.connect(url)
    try:
        for name, sql in PARTS.items():
            job_ids = [row["id"] for row in await conn.fetch(
                "INSERT INTO waitpoint.jobs (worker, state, meta) SELECT 'bench.Waiting', "
                "'suspended', '{\"await\": {\"call\": 1}}' FROM generate_series(1, $1) "
                "RETURNING id", batch * batches)]
            events = records(job_ids, f"part_{time.time_ns()}")
            cpu = postgres_cpu()
            for first in range(0, len(events), batch):
                chunk = events[first:first + batch]
                arguments = [[e.deliveries[0].target.job_ids[0] for e in chunk],
                             [e.source for e in chunk], [e.delivery_id for e in chunk],
                             [json.dumps(e.headers) for e in chunk], [e.body for e in chunk],
                             [e.deliveries[0].payload for e in chunk]]
                used = sorted({int(n) for n in re.findall(r"\$(\d)", sql)})
                numbered = re.sub(r"\$(\d)",
                                  lambda m, used=used: f"${used.index(int(m[1])) + 1}", sql)
                async with conn.transaction():
                    await conn.execute(numbered, *(arguments[n - 1] for n in used))
            print(f"  {name:<20} {(postgres_cpu() - cpu) / len(events) * 1e6:6.1f} us "
                  "PostgreSQL CPU per event")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", action="store_true",
                        help="then each statement of the commit alone")
    args = parser.parse_args()
    if args.batch * args.batches * args.rounds > WAITING_JOBS:
        parser.error(f"batch x batches x rounds must stay within {WAITING_JOBS} jobs")
    from waitpoint._database import resolve_database_url

    url, job_ids = asyncio.run(prepare(resolve_database_url(args.database_url)))
    rows = []
    print(f"{args.batches} group commits of {args.batch} events per round, one connection")
    print("round   inbox wall us/event  PostgreSQL us/event   floor wall  floor PostgreSQL"
          "   PostgreSQL ratio")
    for round_number in range(1, args.rounds + 1):
        row = asyncio.run(measure(url, job_ids, args.batch, args.batches, round_number))
        rows.append(row)
        print(f"{round_number:>5} {row['receiver_wall_us']:20.1f} {row['receiver_pg_us']:20.1f}"
              f" {row['floor_wall_us']:12.1f} {row['floor_pg_us']:17.1f}"
              f" {row['receiver_pg_us'] / row['floor_pg_us']:18.2f}", flush=True)
    warm = rows[1:] or rows
    pg = statistics.median(row["receiver_pg_us"] for row in warm)
    print(f"\nwarm (median of rounds 2..): inbox {pg:.1f} us PostgreSQL CPU per event, "
          f"floor {statistics.median(row['floor_pg_us'] for row in warm):.1f}; cold round 1: "
          f"{rows[0]['receiver_pg_us']:.1f} us = {rows[0]['receiver_pg_us'] / pg:.2f}x warm "
          "(targets: <= 50 us warm, cold <= 1.5x warm)")
    if args.parts:
        print("\nthe commit's statements alone, same batches:")
        asyncio.run(measure_parts(url, args.batch, args.batches))


if __name__ == "__main__":
    main()
