"""Migrations: ordered, once each, safe when run concurrently, shipped in the wheel."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import asyncpg
import pytest

from ingest.query import RECEIVER_TRACKS
from waitpoint import MigrationError, Waitpoint
from waitpoint.schema import (
    ENGINE_TRACK,
    applied_versions,
    available_migrations,
    migrate,
    pending_migrations,
)

ROOT = Path(__file__).resolve().parents[2]


async def test_concurrent_migrators_apply_each_migration_once(database_url):
    schema = f"m_{uuid.uuid4().hex[:10]}"
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn, schema, RECEIVER_TRACKS)
                                           for conn in conns))
        expected = available_migrations(RECEIVER_TRACKS)
        assert sum(len(applied) for applied in results) == len(expected)
        assert await applied_versions(conns[0], schema) == {
            (m.track, m.version) for m in expected}
        assert await migrate(conns[0], schema, RECEIVER_TRACKS) == []
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


def test_the_wheel_ships_the_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("waitpoint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for track in (ENGINE_TRACK, *RECEIVER_TRACKS):
        folder = f"{track.package}/{track.folder}/"
        shipped = sorted(n.removeprefix(folder) for n in names if n.startswith(folder))
        assert shipped == sorted(m.file.name for m in track.migrations())
    assert "waitpoint/queries/ack_and_fetch_jobs.sql" in names
    assert "ingest/queries/ingest_batch.sql" in names


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
    pending = await pending_migrations(conn, schema, RECEIVER_TRACKS)
    assert {m.track for m in pending} == {"ingest"} and len(pending) >= 3
