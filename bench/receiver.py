"""Receiver throughput against a bare aiohttp POST handler and a durable floor, same machine,
same load, same run.

    .venv/bin/python bench/receiver.py --seconds 10 --concurrency 32 [--database-url URL]
        [--client wrk|aiohttp] [--workers N]

Each server runs as one process (one core, as `waitpoint serve --workers 1`, or N with
--workers); one load generator (`wrk`, from Debian's package, when installed; else an
aiohttp client process) sends signed Stripe-style events, each with its own delivery id,
routed to real waiting jobs (each signal wakes its job in the ingest transaction), and
counts answers. Rounds alternate bare / floor / receiver so machine noise hits all alike.
The durable floor is aiohttp + asyncpg storing each group commit's raw events with one
INSERT (unique delivery ids) and one NOTIFY, answering after the COMMIT. Printed: every
round, min and median per server, the first round (a fresh database) on its own, and CPU
per request of the server process(es) and of PostgreSQL. Targets: receiver >= 0.7x the
floor and >= 0.4x bare (medians).
Then: POST to await_signal() returning, in a job waiting live (DESIGN: p50 < 3 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _common import (
    FLOOR_INSERT,
    FLOOR_SCHEMA,
    enqueue_waiting,
    free_port,
    postgres_cpu,
    recreate_database,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_" + "b" * 32
CONFIG = textwrap.dedent(f"""\
    version: 1
    sources:
      stripe:
        path: /webhooks/stripe
        verify: {{scheme: stripe, secrets: ["{SECRET}"]}}
        routes:
          - name: approved
            when: body.type == 'payment_intent.succeeded'
            signal:
              job: body.data.object.metadata.job_id
              payload: {{decision: "'approved'", amount: body.data.object.amount}}
    """)



def bare_server(port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/stripe", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)




def floor_server(port: int, database_url: str) -> None:
    """The durable floor: aiohttp + asyncpg, the raw events of a group commit stored by one
    INSERT (unique delivery ids) with one NOTIFY, answered after the COMMIT. What any
    durable receiver must at least pay; the receiver adds verification, routing, signals
    and waking jobs."""
    import asyncpg
    from aiohttp import web

    pending: list[tuple[str, bytes, asyncio.Future[None]]] = []
    wake = asyncio.Event()

    async def writer(app: web.Application):  # type: ignore[no-untyped-def]
        pool = await asyncpg.create_pool(database_url, min_size=4, max_size=4)
        await pool.execute(FLOOR_SCHEMA)
        in_flight: set[asyncio.Task[None]] = set()

        async def commit(batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
            await pool.execute(FLOOR_INSERT, [b[0] for b in batch], [b[1] for b in batch])
            for _, _, future in batch:
                future.set_result(None)

        async def run() -> None:
            nonlocal in_flight
            while True:
                await wake.wait()
                wake.clear()
                while pending:
                    if len(in_flight) >= 4:
                        _, in_flight = await asyncio.wait(
                            in_flight, return_when=asyncio.FIRST_COMPLETED)
                        continue
                    batch = pending[:500]
                    del pending[:500]
                    in_flight.add(asyncio.create_task(commit(batch)))

        task = asyncio.create_task(run())
        yield
        task.cancel()
        await pool.close()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            delivery_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "malformed_body"}, status=400)
        future = asyncio.get_running_loop().create_future()
        pending.append((delivery_id, body, future))
        wake.set()
        await future
        return web.json_response({"ok": True})

    app = web.Application()
    app.cleanup_ctx.append(writer)
    app.router.add_post("/webhooks/stripe", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def server_cpu(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    times = [process.cpu_times(), *(child.cpu_times() for child in process.children(True))]
    return sum(t.user + t.system for t in times)


async def wait_ready(port: int) -> None:
    import aiohttp

    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(f"http://127.0.0.1:{port}/webhooks/stripe",
                                        data=b"{}") as response:
                    if response.status in (200, 400, 401):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("server did not start")


def signed_requests(count: int, job_ids: list[int]) -> list[tuple[bytes, dict[str, str]]]:
    from pydantic import TypeAdapter

    from ingest.verify import sign
    from routing.schemes import VerifySpec

    options = TypeAdapter(VerifySpec).validate_python({"scheme": "stripe", "secrets": [SECRET]})
    requests = []
    for n in range(count):
        body = json.dumps({"id": f"evt_{time.time_ns()}_{n}", "type": "payment_intent.succeeded",
                           "data": {"object": {"amount": n, "metadata": {
                               "job_id": str(job_ids[n % len(job_ids)])}}}}).encode()
        requests.append((body, {"content-type": "application/json", **sign(options, body)}))
    return requests


async def load(port: int, seconds: float, concurrency: int,
               requests: list[tuple[bytes, dict[str, str]]]) -> dict[str, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cursor = 0
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal cursor
        while time.monotonic() < deadline:
            body, headers = requests[cursor % len(requests)]
            cursor += 1
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"rps": len(latencies) / elapsed, "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
            "ok": statuses.get(200, 0) / max(1, len(latencies))}


def wrk_load(port: int, seconds: float, concurrency: int, requests_file: Path) -> dict[str, float]:
    """One wrk thread (C, so the load generator takes little of the shared CPU)."""
    asyncio.run(wait_ready(port))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", "-s",
         str(ROOT / "bench" / "wrk_requests.lua"), f"http://127.0.0.1:{port}", "--",
         str(requests_file)], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out)[1])
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(name: str) -> float:
        value, unit = re.search(rf"{name}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50_ms": percentile("50"), "p99_ms": percentile("99"),
            "ok": 1 - (int(failed[1]) if failed else 0) / max(1, total)}


def write_requests_file(path: Path, count: int) -> None:
    job_ids = bench_job_ids()
    with path.open("w") as file:
        for body, headers in signed_requests(count, job_ids):
            file.write(f"{headers['Stripe-Signature']}\t{body.decode()}\n")


WAITING_JOBS = 30_000
"""Each callback signals its own waiting job, as in production: a job seen again only
after 30,000 requests, so concurrent batches never queue on one job's row lock (with
1,000 jobs cycled, most batches did, and the benchmark measured lock waits)."""


def bench_job_ids() -> list[int]:
    first, _, last = os.environ["BENCH_JOB_IDS"].partition("-")
    return list(range(int(first), int(last) + 1))


async def prepare_database(base: str, name: str = "bench_ingest") -> str:
    url = await recreate_database(base, name)
    import asyncpg

    from ingest.receiver_sql import RECEIVER_TRACKS
    from waitpoint.schema import migrate

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, "waitpoint", RECEIVER_TRACKS)
    finally:
        await conn.close()
    job_ids = await enqueue_waiting(url, WAITING_JOBS)
    os.environ["BENCH_JOB_IDS"] = f"{job_ids[0]}-{job_ids[-1]}"
    return url


async def end_to_end(url: str, samples: int) -> dict[str, float]:
    """POST to await_signal() returning, measured in one process (one clock), with the
    stages between: until the inbox starts the commit, the commit of a batch of one, and
    from the commit to the waiting job holding its payload (NOTIFY, then the durable
    consume). The stage clocks wrap Inbox._commit: diagnostics, in the benchmark only."""
    from aiohttp import ClientSession, web

    import routing
    from ingest.app import create_app
    from ingest.inbox import Inbox
    from waitpoint import Waitpoint, await_signal, worker

    resumed: dict[int, float] = {}
    commits: list[tuple[float, float]] = []
    commit = Inbox._commit

    async def timed_commit(self, batch):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        await commit(self, batch)
        commits.append((started, time.perf_counter()))

    @worker(queue="e2e")
    class Waiter:
        async def process(self, job):
            await await_signal(wait_timeout=30)
            resumed[job.id] = time.perf_counter()

    config = routing.parse_config(CONFIG, "bench.yaml", {})
    port = free_port()
    stages: dict[str, list[float]] = {"total": [], "post_to_commit": [], "commit": [],
                                      "commit_to_resumed": []}
    Inbox._commit = timed_commit  # type: ignore[method-assign]
    try:
        async with Waitpoint(url, queues={"e2e": 10}) as wp:
            runner = web.AppRunner(create_app(config, wp), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            async with ClientSession() as session:
                for _ in range(samples):
                    job = await Waiter.enqueue({})
                    while job.id not in wp._notifier._waiters:  # waiting live
                        await asyncio.sleep(0.001)
                    ((body, headers),) = signed_requests(1, [job.id])
                    commits.clear()
                    started = time.perf_counter()
                    async with session.post(f"http://127.0.0.1:{port}/webhooks/stripe",
                                            data=body, headers=headers) as response:
                        assert response.status == 200, await response.text()
                    while job.id not in resumed:
                        await asyncio.sleep(0.0002)
                    (commit_started, committed), = commits
                    stages["total"].append(resumed[job.id] - started)
                    stages["post_to_commit"].append(commit_started - started)
                    stages["commit"].append(committed - commit_started)
                    stages["commit_to_resumed"].append(resumed[job.id] - committed)
            await runner.cleanup()
    finally:
        Inbox._commit = commit  # type: ignore[method-assign]
    result = {f"{name}_p50_ms": sorted(values)[len(values) // 2] * 1000
              for name, values in stages.items()}
    ordered = sorted(stages["total"])
    return {**result, "p50_ms": result["total_p50_ms"],
            "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000}


def print_summary(results: dict[str, list[dict[str, float]]]) -> None:
    """Min and median of every round; the first round (a fresh database) on its own."""
    import statistics

    print("\n             rounds   min req/s  median req/s  first round  "
          "server us/req  PostgreSQL us/req (medians)")
    for name, rows in results.items():
        rates = [row["rps"] for row in rows]
        server = [row["server_us"] for row in rows if "server_us" in row]
        postgres = [row["postgres_us"] for row in rows if "postgres_us" in row]
        print(f"  {name:<9} {len(rows):>7} {min(rates):11.0f} {statistics.median(rates):13.0f} "
              f"{rates[0]:12.0f} {statistics.median(server) if server else 0:14.0f} "
              f"{statistics.median(postgres) if postgres else 0:18.0f}")
    median = {name: statistics.median(row["rps"] for row in rows)
              for name, rows in results.items()}
    print(f"\nreceiver / durable floor = {median['receiver'] / median['floor']:.2f} "
          f"(target >= 0.7); receiver / bare = {median['receiver'] / median['bare']:.2f} "
          "(target >= 0.4); medians of the rounds")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--client", choices=("wrk", "aiohttp"),
                        default="wrk" if shutil.which("wrk") else "aiohttp")
    parser.add_argument("--workers", type=int, default=1, help="receiver processes")
    parser.add_argument("--log-level", default="INFO", help="the receiver's; INFO writes "
                        "one line per request, as in production")
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--load", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    if args.floor_server:
        floor_server(args.floor_server, args.database_url)
        return
    if args.load:
        port = int(args.load)
        job_ids = bench_job_ids()
        requests = signed_requests(int(args.seconds * 20000), job_ids)
        asyncio.run(wait_ready(port))
        print(json.dumps(asyncio.run(load(port, args.seconds, args.concurrency, requests))))
        return

    from waitpoint._database import resolve_database_url

    url = asyncio.run(prepare_database(resolve_database_url(args.database_url)))
    config_file = ROOT / "bench" / "results" / "ingest-config.yaml"
    config_file.parent.mkdir(exist_ok=True)
    config_file.write_text(CONFIG)
    env = {**os.environ, "WAITPOINT_LOG_LEVEL": args.log_level}
    requests_file = config_file.parent / "ingest-requests.tsv"
    print(f"load generator: {args.client}, {args.concurrency} connections; receiver "
          f"processes: {args.workers}, log level {args.log_level}", flush=True)
    results: dict[str, list[dict[str, float]]] = {"bare": [], "floor": [], "receiver": []}
    for round_number in range(1, args.rounds + 1):
        for name in ("bare", "floor", "receiver"):
            port = free_port()
            if name == "bare":
                server_cmd = [sys.executable, __file__, "--bare-server", str(port)]
            elif name == "floor":
                server_cmd = [sys.executable, __file__, "--floor-server", str(port),
                              "--database-url", url]
            else:
                server_cmd = [sys.executable, "-m", "waitpoint", "serve", "--config",
                              str(config_file), "--database-url", url, "--port", str(port),
                              "--workers", str(args.workers)]
            server = subprocess.Popen(server_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                if args.client == "wrk":
                    # Fresh delivery ids every round: a repeat would be a (cheaper) duplicate.
                    write_requests_file(requests_file, int(args.seconds * 12_000))
                    asyncio.run(wait_ready(port))
                    cpu_before = (server_cpu(server.pid), postgres_cpu())
                    result = wrk_load(port, args.seconds, args.concurrency, requests_file)
                    requests_done = result["rps"] * args.seconds
                    result["server_us"] = ((server_cpu(server.pid) - cpu_before[0])
                                           / requests_done * 1e6)
                    result["postgres_us"] = ((postgres_cpu() - cpu_before[1])
                                             / requests_done * 1e6)
                else:
                    out = subprocess.run(
                        [sys.executable, __file__, "--load", str(port), "--seconds",
                         str(args.seconds), "--concurrency", str(args.concurrency)],
                        cwd=ROOT, env=env, capture_output=True, text=True, check=True)
                    result = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                server.terminate()
                server.wait(30)
            cpu = (f"  CPU/request: server {result['server_us']:5.0f} us, PostgreSQL "
                   f"{result['postgres_us']:5.0f} us" if "server_us" in result else "")
            print(f"round {round_number} {name:<9} {result['rps']:8.0f} req/s  "
                  f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                  f"2xx {result['ok']:.0%}{cpu}", flush=True)
            results[name].append(result)
    print_summary(results)
    e2e = asyncio.run(end_to_end(url, args.samples))
    print(f"POST -> await_signal returning: p50 {e2e['p50_ms']:.2f} ms, "
          f"p99 {e2e['p99_ms']:.2f} ms ({args.samples} samples); p50 of its stages: "
          f"POST -> commit starts {e2e['post_to_commit_p50_ms']:.2f} ms, commit "
          f"{e2e['commit_p50_ms']:.2f} ms, commit -> job resumed "
          f"{e2e['commit_to_resumed_p50_ms']:.2f} ms")


if __name__ == "__main__":
    main()
