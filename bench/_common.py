"""What the benchmarks share: a fresh database per system, on the same server."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def database_url_for(base: str, database: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


async def recreate_database(base: str, database: str) -> str:
    """Drop and create `database` on the server of `base`; return its URL."""
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {database}")
    finally:
        await conn.close()
    return database_url_for(base, database)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The durable floor: what any durable receiver must at least pay (bench/receiver.py serves
# it over HTTP, bench/commit.py runs its statement alone).
FLOOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_events (
  id bigserial PRIMARY KEY, delivery_id text NOT NULL UNIQUE, body bytea NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now())
"""
FLOOR_INSERT = """
WITH stored AS (
  INSERT INTO floor_events (delivery_id, body)
  SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (delivery_id) DO NOTHING
  RETURNING id
)
SELECT pg_notify('floor', (SELECT count(*) FROM stored)::text)
"""


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL process of this machine (backends and
    the server's own), for CPU per event: run alone, this is the benchmark's."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = process.info["name"] or ""
        times = process.info["cpu_times"]
        if name.startswith("postgres") and times is not None:
            total += times.user + times.system
    return total


async def enqueue_waiting(url: str, count: int) -> list[int]:
    """`count` jobs as await_signal() leaves them snoozed (suspended, meta.await set):
    each signal then wakes its job in the ingest transaction, as in production."""
    from waitpoint import Job, Waitpoint

    async with Waitpoint.client(url) as wp:
        return await wp.enqueue_many([Job(worker="bench.Waiting", state="suspended",
                                          meta={"await": {"call": 1}})
                                      for _ in range(count)], ids_only=True)
