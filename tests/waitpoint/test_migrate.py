"""Migrations: ordered, once each, safe when run concurrently, shipped in the wheel."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from waitpoint import MigrationError, Waitpoint
from waitpoint.schema import (
    applied_versions,
    available_migrations,
    installed_tracks,
    migrate,
    pending_migrations,
)

ROOT = Path(__file__).resolve().parents[2]


async def test_concurrent_migrators_apply_each_migration_once(database_url):
    schema = f"m_{uuid.uuid4().hex[:10]}"
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn, schema, installed_tracks())
                                           for conn in conns))
        expected = available_migrations(installed_tracks())
        assert sum(len(applied) for applied in results) == len(expected)
        assert await applied_versions(conns[0], schema) == {
            (m.track, m.version) for m in expected}
        assert await migrate(conns[0], schema, installed_tracks()) == []
    finally:
        await conns[0].execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for conn in conns:
            await conn.close()


async def test_starting_on_an_unmigrated_schema_says_to_migrate(database_url):
    with pytest.raises(MigrationError, match="waitpoint migrate"):
        await Waitpoint(database_url, schema=f"m_{uuid.uuid4().hex[:10]}", queues={}).start()


def test_invalid_schema_names_are_rejected():
    with pytest.raises(ValueError, match="schema"):
        Waitpoint(schema="bad; DROP TABLE x")


@pytest.fixture
async def fresh(database_url):
    """A connection and the name of a schema nothing has migrated yet (dropped after)."""
    schema = f"m_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_url)
    try:
        yield conn, schema
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def test_the_engine_alone_does_not_wait_for_the_receivers_migrations(fresh, database_url):
    conn, schema = fresh
    applied = await migrate(conn, schema)
    assert {m.track for m in applied} == {"waitpoint"}
    async with Waitpoint.client(database_url, schema=schema):
        pass
    pending = await pending_migrations(conn, schema, installed_tracks())
    assert {m.track for m in pending} == {"ingest"} and len(pending) >= 3
