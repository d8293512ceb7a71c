"""pytest fixtures for testing code that uses waitpoint, against a real PostgreSQL.

Installed with waitpoint (entry point `pytest11`); async fixtures run on pytest-asyncio:

    async def test_the_job_waits(waitpoint_database_url, waitpoint_schema):
        async with Waitpoint(waitpoint_database_url, schema=waitpoint_schema,
                             queues={"default": 5}) as wp:
            job = await ApprovalWorker.enqueue({"user_id": 1})
            await wait_for_state(wp, job.id, "suspended")   # from waitpoint.testing

Install them with `pip install 'waitpoint[testing]'` and set `asyncio_mode = "auto"` in
your pytest configuration.

Fixtures:
- `waitpoint_database_url`: $DATABASE_URL, else an embedded PostgreSQL for the session.
- `waitpoint_schema`: a fresh schema per test, migrated with the engine's migrations and
  those of every installed package (the receiver's), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Collection, Mapping

import asyncpg
import pytest

from ._database import start_embedded
from .schema import installed_tracks, migrate

NEEDED_PLUGINS = {"asyncio": "pytest-asyncio"}
ASYNC_FIXTURES = frozenset({"waitpoint_schema"})


def require_plugins(config: pytest.Config, items: list[pytest.Item],
                    fixtures: Collection[str], plugins: Mapping[str, str]) -> None:
    """A test that uses `fixtures` without the pytest `plugins` they run on gets one
    sentence saying what to install, instead of pytest's messages about async fixtures."""
    missing = [package for name, package in plugins.items()
               if not config.pluginmanager.has_plugin(name)]
    users = [item.nodeid for item in items
             if set(fixtures) & set(getattr(item, "fixturenames", ()))]
    if missing and users:
        raise pytest.UsageError(
            f"{users[0]} uses waitpoint's fixtures, which need {' and '.join(missing)}: "
            "pip install 'waitpoint[testing]' (and set asyncio_mode = \"auto\")")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    require_plugins(config, items, ASYNC_FIXTURES, NEEDED_PLUGINS)


@pytest.fixture(scope="session")
def waitpoint_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return start_embedded(tmp_path_factory.mktemp("waitpoint-pg") / "pgdata")


@pytest.fixture
async def waitpoint_schema(waitpoint_database_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(waitpoint_database_url)
    try:
        await migrate(conn, name, installed_tracks())
    finally:
        await conn.close()
    try:
        yield name
    finally:  # a connection of its own: the test may have ended every other one
        conn = await asyncpg.connect(waitpoint_database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await conn.close()
