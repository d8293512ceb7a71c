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


LEGACY_BOOKKEEPING = """
DROP TABLE {schema}.migrations;
CREATE TABLE {schema}.migrations (version integer PRIMARY KEY, name text NOT NULL,
                                  applied_at timestamptz NOT NULL DEFAULT now());
"""


LEGACY_EQUIVALENTS = {("waitpoint", 1), ("waitpoint", 2), ("waitpoint", 3), ("ingest", 1),
                      ("ingest", 2), ("ingest", 3)}
"""What the five migrations of the one list before tracks became."""


async def _as_before_tracks(conn, schema: str, versions: list[tuple[int, str]]) -> None:
    """Rewrite the bookkeeping as it was when one list numbered every migration."""
    await conn.execute(LEGACY_BOOKKEEPING.format(schema=schema))
    await conn.executemany(f"INSERT INTO {schema}.migrations (version, name) VALUES ($1, $2)",
                           versions)


async def test_a_database_migrated_before_tracks_gains_them_and_needs_nothing(fresh):
    conn, schema = fresh
    await migrate(conn, schema, RECEIVER_TRACKS)
    await _as_before_tracks(conn, schema, [(1, "jobs"), (2, "signals"), (3, "events"),
                                           (4, "workflows"), (5, "ingest_index_lookup")])
    # Read as tracks without changing anything: only what came after tracks is pending.
    added_since = [m.label for m in available_migrations(RECEIVER_TRACKS)
                   if (m.track, m.version) not in LEGACY_EQUIVALENTS]
    pending = await pending_migrations(conn, schema, RECEIVER_TRACKS)
    assert [m.label for m in pending] == added_since
    assert [m.label for m in await migrate(conn, schema, RECEIVER_TRACKS)] == added_since
    rows = await conn.fetch(f"SELECT track, version, name FROM {schema}.migrations "
                            "WHERE (track, version) IN (('ingest', 1), ('ingest', 2), "
                            "('ingest', 3), ('waitpoint', 1), ('waitpoint', 2), "
                            "('waitpoint', 3)) ORDER BY track, version")
    assert [tuple(r) for r in rows] == [
        ("ingest", 1, "events"), ("ingest", 2, "workflow_deliveries"),
        ("ingest", 3, "ingest_index_lookup"), ("waitpoint", 1, "jobs"),
        ("waitpoint", 2, "signals"), ("waitpoint", 3, "workflows")]


async def test_a_database_from_before_workflows_gets_the_engine_part_first(fresh):
    conn, schema = fresh
    await migrate(conn, schema, RECEIVER_TRACKS)
    await _as_before_tracks(conn, schema, [(1, "jobs"), (2, "signals"), (3, "events")])
    pending = await pending_migrations(conn, schema, RECEIVER_TRACKS)
    assert [m.label for m in pending][:3] == [
        "waitpoint/003_workflows", "waitpoint/004_keyed_signals_once_per_waiter",
        "waitpoint/005_workflow_state_waiting"]
    assert [m.label for m in pending if m.track == "ingest"][:2] == [
        "ingest/002_workflow_deliveries", "ingest/003_ingest_index_lookup"]


async def test_the_engine_alone_does_not_wait_for_the_receivers_migrations(fresh, database_url):
    conn, schema = fresh
    applied = await migrate(conn, schema)
    assert {m.track for m in applied} == {"waitpoint"}
    async with Waitpoint.client(database_url, schema=schema):
        pass
    pending = await pending_migrations(conn, schema, RECEIVER_TRACKS)
    assert {m.track for m in pending} == {"ingest"} and len(pending) >= 3
