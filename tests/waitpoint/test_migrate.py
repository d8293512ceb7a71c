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

from waitpoint import MigrationError, Waitpoint
from waitpoint._migrate import applied_versions, available_migrations, migrate

ROOT = Path(__file__).resolve().parents[2]


async def test_concurrent_migrators_apply_each_migration_once(database_url):
    schema = f"m_{uuid.uuid4().hex[:10]}"
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn, schema) for conn in conns))
        assert sum(len(applied) for applied in results) == len(available_migrations())
        assert await applied_versions(conns[0], schema) == {
            m.version for m in available_migrations()}
        assert await migrate(conns[0], schema) == []
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
    shipped = sorted(n.rsplit("/", 1)[-1] for n in names if n.startswith("waitpoint/_migrations/"))
    assert shipped == sorted(m.path.name for m in available_migrations())
    assert "waitpoint/queries/ack_and_fetch_jobs.sql" in names
