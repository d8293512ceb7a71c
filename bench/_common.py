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
