"""The cost of a large database: the same measurements on a fresh database and on one
that has run for a month, side by side, same server, same session.

    .venv/bin/python bench/aging.py [--events 10000000] [--finished 1000000]
        [--waiting 100000] [--seconds 5] [--rounds 2] [--database-url URL]

The aged database is filled in SQL (minutes, not hours): `--events` stored callbacks
spread over the last 29 days (headers as jsonb, a 600-byte body), `--finished` completed
jobs and `--waiting` jobs snoozed in await_signal, then VACUUM ANALYZE, as a database that
has run for a while would be. Both databases get the receiver benchmark's 30,000 waiting
jobs. Measured on each, in alternating rounds:

- receiver ingest rate (wrk against `waitpoint serve`, each callback waking its job);
- POST -> await_signal() returning, p50;
- the claim statement of a queue with nothing to fetch, median (the fetch cost);
- a retention pass deleting the events of its oldest day, and the ingest rate while it
  runs (the aged database only: the fresh one has nothing to delete).

Goal: no figure more than 10% worse on the aged database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import receiver as receiver_bench
from _common import free_port

ROOT = Path(__file__).resolve().parents[1]

FILL_EVENTS = """
INSERT INTO waitpoint.events (source, delivery_id, received_at, method, path, query, headers,
                              body, outcome, signals)
SELECT 'stripe', 'evt_aged_' || g, now() - make_interval(secs => g * $2::double precision),
       'POST', '/webhooks/stripe', '{}',
       jsonb_build_object('host', 'example.com', 'user-agent', 'Stripe/1.0',
                          'content-type', 'application/json', 'stripe-signature',
                          '[redacted]', 'x-request-id', md5(g::text)),
       convert_to(repeat('{"id": "evt_aged", "type": "payment_intent.succeeded"} ', 10), 'UTF8'),
       'routed', '[]'
FROM generate_series($3::bigint, $1::bigint) AS g
"""
FILL_FINISHED = """
INSERT INTO waitpoint.jobs (worker, queue, state, args, attempt, inserted_at, scheduled_at,
                            attempted_at, completed_at)
SELECT 'bench.Done', 'default', 'completed', jsonb_build_object('n', g), 1,
       now() - interval '20 days', now() - interval '20 days', now() - interval '20 days',
       now() - make_interval(secs => g % 1700000)
FROM generate_series(1, $1::bigint) AS g
"""
FILL_WAITING = """
INSERT INTO waitpoint.jobs (worker, queue, state, args, meta, attempt)
SELECT 'bench.Waiting', 'waiting', 'suspended', jsonb_build_object('n', g),
       jsonb_build_object('await', jsonb_build_object('call', 1, 'snoozed_at', now())), 0
FROM generate_series(1, $1::bigint) AS g
"""


async def fill(url: str, events: int, finished: int, waiting: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        spacing = 29 * 86_400 / max(events, 1)
        for first in range(1, events + 1, 1_000_000):  # none when events == 0
            last = min(events, first + 999_999)
            await conn.execute(FILL_EVENTS, last, spacing, first)
            print(f"  events {last:,}/{events:,}", flush=True)
        if finished:
            await conn.execute(FILL_FINISHED, finished)
        if waiting:
            await conn.execute(FILL_WAITING, waiting)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def claim_cost(url: str) -> float:
    from waitpoint._query import Query

    query = Query("waitpoint")
    conn = await asyncpg.connect(url)
    try:
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            await query.ack_and_fetch_jobs(conn, queue="nothing-here", demand=10,
                                           node="bench", producer=uuid.UUID(int=0), acks=[])
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000
    finally:
        await conn.close()


def ingest_round(url: str, seconds: float, job_ids: str) -> dict[str, float]:
    """The receiver under wrk, as in bench/receiver.py."""
    config_file = ROOT / "bench" / "results" / "ingest-config.yaml"
    config_file.parent.mkdir(exist_ok=True)
    config_file.write_text(receiver_bench.CONFIG)
    requests_file = config_file.parent / f"aging-requests-{uuid.uuid4().hex[:6]}.tsv"
    os.environ["BENCH_JOB_IDS"] = job_ids
    receiver_bench.write_requests_file(requests_file, int(seconds * 12_000))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "waitpoint", "serve", "--config", str(config_file),
         "--database-url", url, "--port", str(port)], cwd=ROOT,
        env={**os.environ, "WAITPOINT_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(receiver_bench.wait_ready(port))
        return receiver_bench.wrk_load(port, seconds, 32, requests_file)
    finally:
        server.terminate()
        server.wait(30)
        requests_file.unlink(missing_ok=True)


async def retention_pass(url: str) -> tuple[float, int]:
    """Delete the aged database's oldest day of events (retention 28 days)."""
    import routing
    from ingest.receiver_sql import InboxQuery
    from ingest.retention import EventRetention

    config = routing.parse_config(receiver_bench.CONFIG.replace(
        "version: 1\n", "version: 1\nevents_retention: 28d\n"), "aging.yaml", {})
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        retention = EventRetention(pool, InboxQuery("waitpoint"), config)
        started = time.perf_counter()
        deleted = 0
        while True:  # passes until the backlog is gone, as the receiver would over minutes
            count = await retention.run_once()
            deleted += count
            if count == 0:
                break
        return time.perf_counter() - started, deleted
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    os.environ.setdefault("WAITPOINT_LOG_LEVEL", "WARNING")
    from waitpoint._database import resolve_database_url

    base = resolve_database_url(args.database_url)
    urls: dict[str, str] = {}
    job_ids: dict[str, str] = {}
    for name in ("fresh", "aged"):  # each with the receiver benchmark's 30,000 waiting jobs
        urls[name] = asyncio.run(receiver_bench.prepare_database(base, f"bench_aging_{name}"))
        job_ids[name] = os.environ["BENCH_JOB_IDS"]
    print(f"filling the aged database: {args.events:,} events, {args.finished:,} finished "
          f"and {args.waiting:,} waiting jobs", flush=True)
    took = asyncio.run(fill(urls["aged"], args.events, args.finished, args.waiting))
    print(f"  filled in {took:.0f} s")
    asyncio.run(fill(urls["fresh"], 0, 0, 0))  # VACUUM ANALYZE, as for the aged one

    results: dict[str, dict[str, list[float]]] = {n: {"rps": [], "claim_ms": []}
                                                  for n in urls}
    for round_number in range(1, args.rounds + 1):
        for name, url in urls.items():
            ingest = ingest_round(url, args.seconds, job_ids[name])
            claim = asyncio.run(claim_cost(url))
            results[name]["rps"].append(ingest["rps"])
            results[name]["claim_ms"].append(claim)
            print(f"round {round_number} {name:<6} ingest {ingest['rps']:7.0f} req/s   "
                  f"claim {claim:.3f} ms", flush=True)
    latency = {name: asyncio.run(receiver_bench.end_to_end(url, args.samples))
               for name, url in urls.items()}

    # A retention pass on the aged database, with the receiver under load meanwhile.
    loaded: dict[str, float] = {}

    def during() -> None:
        loaded.update(ingest_round(urls["aged"], args.seconds * 2, job_ids["aged"]))

    import threading

    thread = threading.Thread(target=during)
    thread.start()
    time.sleep(1.0)  # the load is running
    seconds, deleted = asyncio.run(retention_pass(urls["aged"]))
    thread.join()

    print("\n                        fresh       aged   aged/fresh (goal <= 1.10 where lower is "
          "better; >= 0.90 for rates)")
    fresh_rps = statistics.median(results["fresh"]["rps"])
    aged_rps = statistics.median(results["aged"]["rps"])
    print(f"  ingest req/s     {fresh_rps:10.0f} {aged_rps:10.0f}   {aged_rps / fresh_rps:.2f}")
    fresh_claim = statistics.median(results["fresh"]["claim_ms"])
    aged_claim = statistics.median(results["aged"]["claim_ms"])
    print(f"  claim ms         {fresh_claim:10.3f} {aged_claim:10.3f}   "
          f"{aged_claim / fresh_claim:.2f}")
    fresh_p50, aged_p50 = latency["fresh"]["p50_ms"], latency["aged"]["p50_ms"]
    print(f"  POST->resumed ms {fresh_p50:10.2f} {aged_p50:10.2f}   {aged_p50 / fresh_p50:.2f}")
    print(f"\nretention on the aged database: {deleted:,} events deleted in {seconds:.1f} s; "
          f"ingest meanwhile {loaded.get('rps', 0):.0f} req/s "
          f"({loaded.get('rps', 0) / aged_rps:.2f} of the aged rate without it)")


if __name__ == "__main__":
    main()
