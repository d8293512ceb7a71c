"""Apply the numbered .sql migrations in order, once each, safely from several processes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from ._errors import MigrationError
from ._queries import check_schema, migrations_folder, render

log = structlog.get_logger("waitpoint.migrate")
_NAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations() -> list[Migration]:
    found = []
    for path in sorted(migrations_folder().glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNN_description.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{migrations_folder()}: two migrations share a number")
    return found


async def applied_versions(conn: asyncpg.Connection, schema: str) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.migrations")
    if not exists:
        return set()
    rows = await conn.fetch(f"SELECT version FROM {check_schema(schema)}.migrations")
    return {row["version"] for row in rows}


async def pending_migrations(conn: asyncpg.Connection, schema: str) -> list[Migration]:
    done = await applied_versions(conn, schema)
    return [m for m in available_migrations() if m.version not in done]


async def migrate(conn: asyncpg.Connection, schema: str = "waitpoint") -> list[Migration]:
    """Apply pending migrations; returns those applied by this call.

    A session advisory lock serialises concurrent migrators: the second one waits, then
    finds nothing left to do. Each migration runs in its own transaction.
    """
    check_schema(schema)
    lock_key = f"waitpoint.migrate:{schema}"
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock_key)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = []
        for migration in await pending_migrations(conn, schema):
            sql = render(migration.path.read_text(encoding="utf-8"), schema)
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {schema}.migrations (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )
            log.info("migration.applied", schema=schema, version=migration.version,
                     name=migration.name)
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)


async def ensure_current(conn: asyncpg.Connection, schema: str) -> None:
    pending = await pending_migrations(conn, schema)
    if pending:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in pending)
        raise MigrationError(
            f"schema {schema!r} is missing migrations ({names}): run `waitpoint migrate`"
        )
