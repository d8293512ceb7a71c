"""The console's pages on a large database: each page's server time (its Server-Timing
header: the handler and its queries, without the HTTP round trip), median of N loads.

    .venv/bin/python bench/console.py [--events 1000000] [--jobs 100000] [--loads 15]
        [--database-url URL] [--keep]

The database is filled in SQL: `--events` stored callbacks over 29 days from three
sources (95% routed, the rest unrouted, no_target or payload_error), each routed one
naming the job it reached; `--jobs` jobs (70% completed, 20% waiting for a signal with
or without a deadline, the rest available, retryable or discarded), a fifth of them steps
of 5-step workflows; a signal per waiting job and per tenth completed job; a day of
per-minute delivery counts; then VACUUM ANALYZE. Aim: every page under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
from _common import recreate_database
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import routing  # noqa: E402
from ingest.console import ConsoleAccess, create_console_app  # noqa: E402
from ingest.receiver_sql import RECEIVER_TRACKS  # noqa: E402
from waitpoint import Waitpoint  # noqa: E402
from waitpoint.cli import migrate_database  # noqa: E402

CONFIG = """
version: 1
sources:
  stripe:
    path: /webhooks/stripe
    verify: {scheme: stripe, secrets: ["whsec_bench_0123456789abcdef"]}
    routes:
      - name: paid
        signal: {job: body.job, payload: {amount: body.amount}}
  github:
    path: /webhooks/github
    verify: {scheme: github, secrets: ["bench-secret-0123456789"]}
    routes:
      - name: push
        signal: {key: "'repo:' + string(body.repo)"}
  partner:
    path: /callbacks/partner/{job_id}
    verify: {scheme: hmac, secrets: ["bench-secret-0123456789"], header: x-signature}
    routes:
      - signal: {job: params.job_id}
"""

FILL_WORKFLOWS = """
INSERT INTO waitpoint.workflows (name, started_at, finished_at, completed, suspended)
SELECT 'flow-' || g, now() - interval '1 day',
       CASE WHEN g % 4 = 0 THEN NULL ELSE now() - interval '1 hour' END,
       CASE WHEN g % 4 = 0 THEN 3 ELSE 5 END, CASE WHEN g % 4 = 0 THEN 2 ELSE 0 END
FROM generate_series(1, $1::bigint) AS g
"""
FILL_JOBS = """
INSERT INTO waitpoint.jobs (worker, queue, state, args, meta, tags, attempt, errors,
                            inserted_at, scheduled_at, attempted_at, completed_at,
                            discarded_at, workflow_id, step, deps)
SELECT CASE WHEN g % 3 = 0 THEN 'myapp.workers.Charge' ELSE 'myapp.workers.Approval' END,
       CASE WHEN g % 2 = 0 THEN 'default' ELSE 'approvals' END,
       s.state::waitpoint.job_state,
       jsonb_build_object('order_id', g, 'customer', 'cust_' || (g % 997)),
       CASE WHEN s.state IN ('scheduled', 'suspended') THEN jsonb_build_object('await',
              jsonb_build_object('call', 1, 'snoozed_at', now() - make_interval(secs => g % 86400),
                                 'key', CASE WHEN g % 5 = 0 THEN 'order:' || g END))
            ELSE '{}' END,
       CASE WHEN g % 10 = 0 THEN ARRAY['vip'] ELSE '{}' END,
       1,
       CASE WHEN s.state IN ('retryable', 'discarded') THEN jsonb_build_array(jsonb_build_object(
         'at', now(), 'attempt', 1, 'error', 'ValueError: nope',
         'traceback', 'Traceback (most recent call last): ...')) ELSE '[]' END,
       now() - make_interval(secs => ($1 - g) * 20),
       CASE WHEN s.state = 'scheduled' THEN now() + make_interval(secs => g % 86400)
            ELSE now() - make_interval(secs => ($1 - g) * 20) END,
       now() - make_interval(secs => ($1 - g) * 20),
       CASE WHEN s.state = 'completed' THEN now() - make_interval(secs => ($1 - g) * 20) END,
       CASE WHEN s.state = 'discarded' THEN now() END,
       CASE WHEN g % 5 = 0 THEN g / 25 + 1 END,
       CASE WHEN g % 5 = 0 THEN 'step' || (g / 5 % 5) END,
       CASE WHEN g % 5 = 0 AND g / 5 % 5 > 0 THEN ARRAY['step' || (g / 5 % 5 - 1)] ELSE '{}' END
FROM generate_series(1, $1::bigint) AS g,
LATERAL (SELECT CASE
  WHEN g % 100 < 70 THEN 'completed' WHEN g % 100 < 80 THEN 'scheduled'
  WHEN g % 100 < 90 THEN 'suspended' WHEN g % 100 < 95 THEN 'available'
  WHEN g % 100 < 98 THEN 'retryable' ELSE 'discarded' END AS state) s
"""
FILL_EVENTS = """
INSERT INTO waitpoint.events (source, delivery_id, received_at, method, path, query, headers,
                              body, outcome, signals)
SELECT src.name, 'evt_' || g, now() - make_interval(secs => ($1 - g) * $2::double precision),
       'POST', src.path, '{}',
       jsonb_build_object('host', 'example.com', 'content-type', 'application/json',
                          'x-signature', '[redacted]', 'x-request-id', md5(g::text)),
       convert_to('{"id": "evt_' || g || '", "job": ' || (g % $3 + 1)
                  || ', "amount": ' || (g % 5000) || ', "note": "'
                  || repeat('lorem ipsum ', 30) || '"}', 'UTF8'),
       o.outcome,
       CASE WHEN o.outcome = 'routed' THEN jsonb_build_array(jsonb_build_object(
         'route', 'paid', 'jobs', jsonb_build_array(g % $3 + 1),
         'reached', jsonb_build_array(g % $3 + 1))) ELSE '[]' END
FROM generate_series($4::bigint, $5::bigint) AS g,
LATERAL (SELECT CASE g % 3 WHEN 0 THEN 'stripe' WHEN 1 THEN 'github' ELSE 'partner' END AS name,
                CASE g % 3 WHEN 0 THEN '/webhooks/stripe' WHEN 1 THEN '/webhooks/github'
                     ELSE '/callbacks/partner/1' END AS path) src,
LATERAL (SELECT CASE WHEN g % 100 < 95 THEN 'routed' WHEN g % 100 < 97 THEN 'unrouted'
                     WHEN g % 100 < 99 THEN 'no_target' ELSE 'payload_error' END AS outcome) o
"""
FILL_SIGNALS = """
INSERT INTO waitpoint.signals (job_id, key, payload, source, inserted_at, consumed_at,
                               consumed_call)
SELECT id, NULL, '\\x836a'::bytea, 'event:' || id, now() - interval '1 hour',
       CASE WHEN state = 'completed' THEN now() - interval '59 minutes' END,
       CASE WHEN state = 'completed' THEN 1 END
FROM waitpoint.jobs
WHERE state IN ('scheduled', 'suspended') OR (state = 'completed' AND id % 10 = 0);
INSERT INTO waitpoint.signals (job_id, key, payload, source, expires_at)
SELECT NULL, 'order:early-' || g, '\\x836a'::bytea, 'event:' || g, now() + interval '7 days'
FROM generate_series(1, 1000) AS g;
"""
FILL_COUNTS = """
INSERT INTO waitpoint.delivery_counts (minute, source, kind, name, count)
SELECT date_trunc('minute', now()) - make_interval(mins => m), s, k.kind, k.name, k.n
FROM generate_series(0, 1439) AS m, unnest(ARRAY['stripe', 'github', 'partner']) AS s,
     (VALUES ('outcome', 'routed', 20), ('outcome', 'unrouted', 1), ('outcome', 'duplicate', 2),
             ('rejected', 'bad_signature', 1)) AS k(kind, name, n)
"""


async def fill(url: str, events: int, jobs: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(FILL_WORKFLOWS, jobs // 25 + 1)
        await conn.execute(FILL_JOBS, jobs)
        print(f"  jobs {jobs:,}", flush=True)
        spacing = 29 * 86_400 / max(events, 1)
        for first in range(1, events + 1, 250_000):
            last = min(events, first + 249_999)
            await conn.execute(FILL_EVENTS, events, spacing, jobs, first, last)
            print(f"  events {last:,}/{events:,}", flush=True)
        await conn.execute(FILL_SIGNALS)
        await conn.execute(FILL_COUNTS)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def pages(url: str) -> list[tuple[str, str]]:
    """(label, path) of every page and filter, with ids from the filled database."""
    conn = await asyncpg.connect(url)
    try:
        newest = await conn.fetchval("SELECT max(id) FROM waitpoint.events")
        waiting = await conn.fetchval(
            "SELECT max(id) FROM waitpoint.jobs WHERE state = 'scheduled'")
        workflow = await conn.fetchval("SELECT min(id) FROM waitpoint.workflows")
        delivery = await conn.fetchval(
            "SELECT delivery_id FROM waitpoint.events WHERE id = $1", newest // 2)
    finally:
        await conn.close()
    return [
        ("overview (the leader's sample)", "/"),
        ("overview, live part", "/overview/live"),
        ("deliveries", "/deliveries"),
        ("deliveries, page 2", f"/deliveries?before={newest - 49}"),
        ("deliveries, a middle page", f"/deliveries?before={newest // 2}"),
        ("deliveries by source", "/deliveries?source=github"),
        ("deliveries by outcome", "/deliveries?outcome=payload_error"),
        ("deliveries by source and outcome", "/deliveries?source=stripe&outcome=unrouted"),
        ("deliveries by time range", "/deliveries?since=10d&until=" + _days_ago(9)),
        ("deliveries by delivery id", f"/deliveries?delivery_id={delivery}"),
        ("deliveries by body text (bounded)", "/deliveries?text=%22amount%22:%204999"),
        ("one delivery", f"/deliveries/{newest // 2}"),
        ("dry run", f"/deliveries/{newest // 2}/dry-run"),
        ("jobs", "/jobs"),
        ("jobs by state (waiting)", "/jobs?state=suspended"),
        ("jobs by state and queue", "/jobs?state=retryable&queue=default"),
        ("jobs by worker (bounded)", "/jobs?worker=myapp.workers.Charge"),
        ("jobs by tag (bounded)", "/jobs?tag=vip"),
        ("jobs by args text (bounded)", "/jobs?args=cust_42%22"),
        ("one job", f"/jobs/{waiting}"),
        ("bulk count (retryable)", "/jobs/bulk/retry?state=retryable"),
        ("waiting (the leader's sample)", "/waiting"),
        ("workflows", "/workflows"),
        ("running workflows", "/workflows?state=running"),
        ("one workflow", f"/workflows/{workflow}"),
        ("sources", "/sources"),
    ]


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def leader_sample(url: str, *, fresh: bool) -> None:
    """Take the depth sample as a running leader does every metrics_interval; or make it
    an hour old, as when no leader samples (the console then counts)."""
    from waitpoint._query import Query

    query = Query("waitpoint")
    conn = await asyncpg.connect(url)
    try:
        if fresh:
            await query.record_depth_sample(conn, depths=await query.sample_queues(conn),
                                            waits=await query.sample_waits(conn))
        else:
            await conn.execute("UPDATE waitpoint.wait_samples "
                               "SET sampled_at = now() - interval '1 hour'")
    finally:
        await conn.close()


async def load(http: aiohttp.ClientSession, url: str, loads: int) -> tuple[float, float]:
    """Median and max server time of `loads` loads of `url`, in ms (Server-Timing)."""
    timings = []
    for _ in range(loads):
        async with http.get(url) as response:
            await response.read()
            assert response.status == 200, (url, response.status)
            timings.append(float(response.headers["Server-Timing"].split("dur=")[1]))
    return statistics.median(timings), max(timings)


async def measure(url: str, loads: int) -> list[tuple[str, str, float, float]]:
    config = routing.parse_config(CONFIG, "bench.yaml", {})
    results = []
    await leader_sample(url, fresh=True)
    async with Waitpoint.client(url) as wp:
        app = create_console_app(config, wp, ConsoleAccess(host="127.0.0.1"))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for label, path in await pages(url):
                results.append((label, path, *await load(http, base + path, loads)))
            await leader_sample(url, fresh=False)
            for label, path in (("overview, counted (no leader sampling)", "/"),
                                ("waiting, counted (no leader sampling)", "/waiting")):
                results.append((label, path, *await load(http, base + path, loads)))
        await runner.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", action="store_true",
                        help="Reuse the filled database of a previous run.")
    options = parser.parse_args()

    async def run() -> list[tuple[str, str, float, float]]:
        from _common import database_url_for

        url = database_url_for(options.database_url, "waitpoint_console_bench")
        if options.keep:
            await migrate_database(url, "waitpoint", RECEIVER_TRACKS)  # what came since
        else:
            url = await recreate_database(options.database_url, "waitpoint_console_bench")
            await migrate_database(url, "waitpoint", RECEIVER_TRACKS)
            print(f"filling {options.events:,} events and {options.jobs:,} jobs ...", flush=True)
            print(f"filled in {await fill(url, options.events, options.jobs):.0f} s")
        return await measure(url, options.loads)

    results = asyncio.run(run())
    width = max(len(label) for label, *_ in results)
    print(f"\n{'page':<{width}}  median ms  max ms")
    for label, _path, median, worst in results:
        flag = "  over 100 ms" if median > 100 else ""
        print(f"{label:<{width}}  {median:9.1f}  {worst:6.1f}{flag}")
    print(f"\nslowest median: {max(r[2] for r in results):.1f} ms "
          f"({max(results, key=lambda r: r[2])[0]})")


if __name__ == "__main__":
    main()
