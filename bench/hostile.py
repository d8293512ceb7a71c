"""The long hostile-input and fault runs: what was sent, answered, stored and lost.

    .venv/bin/python bench/hostile.py [--random 100000] [--deliveries 3000] [--quick]
        [--database-url URL]

Each scenario runs `waitpoint serve` as a real process on its own database, through a TCP
proxy to PostgreSQL that can freeze (sockets open, no bytes) or cut (refuse) the database:

- random:  random hostile requests (bytes, deep JSON, NUL, huge ids, duplicate and
           non-UTF-8 headers, forged signatures); no answer may be a 500;
- kill -9: signed deliveries, the receiver killed with SIGKILL halfway and restarted; the
           sender re-sends what got no 2xx, as a provider does;
- frozen:  the database freezes for a while under load, then thaws; re-sent until 2xx;
- stopped: the database refuses connections for a while under load, then comes back;
- slow:    slow-header and idle clients hold connections while deliveries go on.

Every delivery answered 2xx must be stored once with one signal ("lost" and "twice" are
the failures); the table is printed at the end. Exit status 1 when anything was lost,
signalled twice or answered 500.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from _common import free_port, recreate_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.proxy import PostgresProxy  # noqa: E402  (the same proxy the tests use)

SECRET = "whsec_hostile_bench_" + "h" * 24
CONFIG = textwrap.dedent(f"""\
    version: 1
    sources:
      stripe:
        path: /stripe
        verify: {{scheme: stripe, secrets: ["{SECRET}"]}}
        delivery_id: body.id
        routes:
          - signal: {{key: "'k:' + body.id"}}
      open:
        path: /open/{{job_id}}
        verify: {{scheme: none, insecure: true}}
        routes:
          - signal: {{job: params.job_id}}
          - signal: {{job: body.job}}
    """)


@dataclass
class Row:
    scenario: str
    sent: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    stored: int = 0
    lost: int = 0
    twice: int = 0
    note: str = ""

    def line(self) -> str:
        ok = sum(n for status, n in self.answers.items() if 200 <= status < 300)
        rejected = sum(n for status, n in self.answers.items() if 400 <= status < 500)
        unavailable = self.answers.get(503, 0)
        errors = sum(n for status, n in self.answers.items() if status >= 500 and status != 503)
        failed = self.answers.get(0, 0)
        return (f"{self.scenario:<9} {self.sent:>8} {ok:>7} {rejected:>7} {unavailable:>7} "
                f"{errors:>5} {failed:>7} {self.stored:>7} {self.lost:>5} {self.twice:>6}  "
                f"{self.note}")


HEADER = (f"{'scenario':<9} {'sent':>8} {'2xx':>7} {'4xx':>7} {'503':>7} {'500':>5} "
          f"{'no-ans':>7} {'stored':>7} {'lost':>5} {'twice':>6}")



class Receiver:
    """`waitpoint serve` as a process: started, killed, started again."""

    def __init__(self, config: Path, database_url: str, limits: list[str]) -> None:
        self.config, self.database_url, self.limits = config, database_url, limits
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        command = [sys.executable, "-m", "waitpoint", "--log-level", "ERROR", "serve",
                   "--config", str(self.config), "--database-url", self.database_url,
                   "--port", str(self.port)]
        for limit in self.limits:
            command += ["--limit", limit]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError("the receiver did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> None:
        # Waiting in a thread: the proxy to the database runs on this process's loop, and
        # the receiver's shutdown talks to the database through it.
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@functools.cache
def stripe_verifier() -> Any:
    from ingest.verify import build_verifier
    from routing import parse_config

    return build_verifier(parse_config(CONFIG, "hostile.yaml", {}).sources["stripe"].verifier)


def signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded"}).encode()
    return body, {"content-type": "application/json", **stripe_verifier().sign(body)}


async def deliver(session: aiohttp.ClientSession, url: str, event_id: str, row: Row) -> int:
    body, headers = signed(event_id)
    try:
        async with session.post(f"{url}/stripe", data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=30)) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError):
        status = 0
    row.answers[status] += 1
    return status


async def check(url: str, row: Row, acknowledged: set[str]) -> None:
    """Stored events and their signals, against what was acknowledged with a 2xx."""
    conn = await asyncpg.connect(url)
    try:
        events = {r["delivery_id"] for r in await conn.fetch(
            "SELECT delivery_id FROM waitpoint.events WHERE source = 'stripe'")}
        counts = await conn.fetch("SELECT key, count(*) AS n FROM waitpoint.signals "
                                  "WHERE key LIKE 'k:%' GROUP BY key")
        row.stored = await conn.fetchval("SELECT count(*) FROM waitpoint.events")
    finally:
        await conn.close()
    row.lost = len(acknowledged - events)
    row.twice = sum(1 for r in counts if r["n"] > 1)


async def prepare(base: str, name: str) -> str:
    from ingest.receiver_sql import RECEIVER_TRACKS
    from waitpoint.schema import migrate

    url = await recreate_database(base, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, "waitpoint", RECEIVER_TRACKS)
    finally:
        await conn.close()
    return url


async def until_acknowledged(session: aiohttp.ClientSession, url: str, ids: list[str],
                             row: Row, concurrency: int = 32,
                             deadline: float = 300.0) -> set[str]:
    """Send every id, and again each one that got no 2xx, as a provider retries."""
    acknowledged: set[str] = set()
    pending = list(ids)
    stop_at = time.monotonic() + deadline
    semaphore = asyncio.Semaphore(concurrency)
    while pending and time.monotonic() < stop_at:

        async def one(event_id: str) -> None:
            async with semaphore:
                row.sent += 1
                if 200 <= await deliver(session, url, event_id, row) < 300:
                    acknowledged.add(event_id)

        await asyncio.gather(*(one(event_id) for event_id in pending))
        pending = [event_id for event_id in pending if event_id not in acknowledged]
        if pending:
            await asyncio.sleep(0.5)
    return acknowledged


async def scenario_kill(base: str, config: Path, count: int) -> Row:
    row = Row("kill -9")
    url = await prepare(base, "hostile_kill")
    receiver = Receiver(config, url, [])
    await receiver.start()
    ids = [f"evt_kill_{n}" for n in range(count)]
    acknowledged: set[str] = set()
    async with aiohttp.ClientSession() as session:
        first = asyncio.create_task(until_acknowledged(session, receiver.url, ids, row,
                                                       deadline=5))

        async def kill_halfway() -> None:
            while row.sent < count // 2:
                await asyncio.sleep(0.01)
            receiver.kill()

        await asyncio.gather(kill_halfway(), return_exceptions=True)
        acknowledged |= await first
        await receiver.start()  # a new process on the same port
        acknowledged |= await until_acknowledged(session, receiver.url, ids, row)
        # A provider also re-sends deliveries that did get a 2xx it never saw.
        await until_acknowledged(session, receiver.url, ids[: count // 10], row)
    await receiver.stop()
    await check(url, row, acknowledged)
    row.note = "killed at half; unacknowledged re-sent, a tenth re-sent again"
    return row


async def scenario_database(base: str, config: Path, count: int, fault: str) -> Row:
    row = Row(fault)
    url = await prepare(base, f"hostile_{fault}")
    proxy = PostgresProxy(url)
    await proxy.start()
    receiver = Receiver(config, proxy.url, ["commit_timeout=2"])
    await receiver.start()
    ids = [f"evt_{fault}_{n}" for n in range(count)]
    async with aiohttp.ClientSession() as session:
        sending = asyncio.create_task(until_acknowledged(session, receiver.url, ids, row))
        while row.sent < count // 3:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        if fault == "frozen":
            proxy.freeze()
            await asyncio.sleep(8)
            proxy.thaw()
        else:
            await proxy.cut()
            await asyncio.sleep(8)
            await proxy.start()
        outage = time.monotonic() - started
        acknowledged = await sending
        ready = await session.get(f"{receiver.url}/readyz")
    await receiver.stop()
    await proxy.cut()
    await check(url, row, acknowledged)
    row.note = f"database {fault} {outage:.0f} s under load; ready after: {ready.status}"
    return row


async def scenario_slow(base: str, config: Path, count: int) -> Row:
    row = Row("slow")
    url = await prepare(base, "hostile_slow")
    receiver = Receiver(config, url, ["keepalive_timeout=2", "body_timeout=2"])
    await receiver.start()
    held: list[asyncio.StreamWriter] = []
    closed = 0

    async def slow_client(kind: str) -> None:
        nonlocal closed
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        held.append(writer)
        if kind == "slow-header":
            writer.write(b"POST /open/1 HTTP/1.1\r\nHost: x\r\n")
        elif kind == "slow-body":
            writer.write(b"POST /open/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n{")
        try:
            for _ in range(60):
                if reader.at_eof():
                    break
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1)
                except TimeoutError:
                    data = b"."
                if not data:
                    break
                writer.write(b"X: y\r\n" if kind == "slow-header" else b" ")
                await writer.drain()
            else:
                return
        except OSError:
            pass
        closed += 1

    clients = [asyncio.create_task(slow_client(kind))
               for kind in ["slow-header"] * 200 + ["slow-body"] * 100 + ["idle"] * 1000]
    ids = [f"evt_slow_{n}" for n in range(count)]
    async with aiohttp.ClientSession() as session:
        acknowledged = await until_acknowledged(session, receiver.url, ids, row)
    await asyncio.gather(*clients, return_exceptions=True)
    await receiver.stop()
    await check(url, row, acknowledged)
    row.note = f"1,300 slow or idle clients, {closed} closed by the receiver"
    return row


def hostile_request(rng: random.Random) -> tuple[str, bytes, list[tuple[str, str]]]:
    depth = rng.choice([1, 5, 63, 65, 500, 5000])
    kinds = [
        lambda: b"[" * depth + b"]" * depth,
        lambda: json.dumps({"job": "9" * rng.choice([3, 19, 20, 5000])}).encode(),
        lambda: json.dumps({"id": "a\u0000b", "job": 1}).encode(),
        lambda: json.dumps({"id": "\ud800", "x": "\udfff"}).encode(),
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))),
        lambda: json.dumps({"job": rng.randint(-5, 10**20), "n": 2**70}).encode(),
        lambda: b"job=" + str(rng.randint(0, 10**30)).encode(),
    ]
    body = rng.choice(kinds)()
    path = rng.choice(["/stripe", "/open/1", f"/open/{'9' * 30}", "/open/%00", "/nope"])
    headers = [("content-type", rng.choice(["application/json", "text/plain",
                                            "application/x-www-form-urlencoded", ""]))]
    if rng.random() < 0.3:
        headers += [("stripe-signature", f"t={rng.randint(0, 2**40)},v1={'0' * 64}")] * 2
    elif rng.random() < 0.5:
        _, signed_headers = signed(f"evt_random_{rng.getrandbits(32)}")
        headers += list(signed_headers.items())
    return path, body, headers


async def scenario_random(base: str, config: Path, count: int) -> Row:
    row = Row("random")
    url = await prepare(base, "hostile_random")
    receiver = Receiver(config, url, [])
    await receiver.start()
    rng = random.Random(20261129)
    acknowledged: set[str] = set()
    semaphore = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(skip_auto_headers={"Content-Type"}) as session:

        async def one() -> None:
            path, body, headers = hostile_request(rng)
            async with semaphore:
                row.sent += 1
                try:
                    async with session.post(receiver.url + path, data=body,
                                            headers=headers) as response:
                        answer = await response.read()
                        row.answers[response.status] += 1
                        if 200 <= response.status < 300 and path == "/stripe":
                            with_id = json.loads(body) if body[:1] == b"{" else {}
                            if isinstance(with_id, dict) and isinstance(with_id.get("id"), str):
                                acknowledged.add(with_id["id"].replace("\u0000", "\ufffd"))
                        del answer
                except (aiohttp.ClientError, OSError, ValueError):
                    row.answers[0] += 1

        for start in range(0, count, 2000):
            await asyncio.gather(*(one() for _ in range(min(2000, count - start))))
    await receiver.stop()
    await check(url, row, acknowledged)
    row.note = "deep JSON, NUL, surrogates, huge ids, raw bytes, duplicate signatures"
    return row


async def fallback_cost(base: str, rounds: int = 20, size: int = 32) -> str:
    """What one bad event costs its batch: the batch statement fails, then each event is
    committed alone. Median of `rounds` batches of `size`, all good vs one bad."""
    import statistics

    import routing
    from ingest.events import Delivery, EventRecord
    from ingest.inbox import Inbox
    from ingest.receiver_sql import InboxQuery
    from waitpoint import codec

    url = await prepare(base, "hostile_fallback")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    inbox = Inbox(pool, InboxQuery("waitpoint"))
    payload = codec.encode({"ok": True})

    def record(n: int, bad: bool) -> EventRecord:
        target = routing.JobTarget(("not-a-number",) if bad else (n,))  # type: ignore[arg-type]
        return EventRecord("s", f"d{n}", b"{}", "routed",
                           deliveries=[Delivery("r", target, payload)])

    timings: dict[bool, list[float]] = {False: [], True: []}
    serial = 0
    for _ in range(rounds):
        for bad in (False, True):
            batch = []
            for index in range(size):
                serial += 1
                batch.append((record(serial, bad and index == size // 2),
                              asyncio.get_running_loop().create_future()))
            started = time.perf_counter()
            await inbox._commit(batch)
            timings[bad].append(time.perf_counter() - started)
            for _, future in batch:
                future.exception()  # the bad one's UnstorableEvent: expected
    await pool.close()
    good = statistics.median(timings[False]) * 1000
    bad = statistics.median(timings[True]) * 1000
    return (f"group commit of {size}: {good:.1f} ms all good, {bad:.1f} ms with one bad event "
            f"({bad / good:.1f}x; the {size - 1} good ones still commit), median of {rounds}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="2,000 random, 600 deliveries")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if args.quick:
        args.random, args.deliveries = 2000, 600
    from waitpoint import resolve_database_url

    base = resolve_database_url(args.database_url)
    config = ROOT / "bench" / "results" / "hostile.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(CONFIG)
    rows = [await scenario_random(base, config, args.random)]
    print(HEADER + "\n" + rows[-1].line(), flush=True)
    for run in (lambda: scenario_kill(base, config, args.deliveries),
                lambda: scenario_database(base, config, args.deliveries, "frozen"),
                lambda: scenario_database(base, config, args.deliveries, "stopped"),
                lambda: scenario_slow(base, config, args.deliveries)):
        rows.append(await run())
        print(rows[-1].line(), flush=True)
    print("\n" + HEADER)
    for row in rows:
        print(row.line())
    print("\n" + await fallback_cost(base))
    failed = any(row.lost or row.twice or row.answers.get(500) for row in rows)
    print("\nFAILED: something was lost, signalled twice or answered 500" if failed
          else "\nnothing lost, nothing signalled twice, no 500")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
