"""Fixtures that start real parts: a PostgreSQL (DATABASE_URL, else embedded) and a fresh
schema per test, so tests never see each other's rows or notifications."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from waitpoint import Waitpoint
from waitpoint.testing import wait_for_state

__all__ = ["wait_for_state", "wait_until"]


@pytest.fixture(scope="session")
def database_url(waitpoint_database_url: str) -> str:
    """The plugin's database (DATABASE_URL, else one embedded server for the session)."""
    return waitpoint_database_url


@pytest.fixture
def schema(waitpoint_schema: str) -> str:
    """The plugin's fresh, migrated schema for this test."""
    return waitpoint_schema


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


FAST = dict(poll_interval=0.5, stage_interval=0.05, leader_interval=0.2, heartbeat_interval=0.2,
            rescue_interval=0.1, prune_interval=0.1, shutdown_grace=5.0)


@pytest.fixture
async def start_waitpoint(
    database_url: str, schema: str
) -> AsyncIterator[Callable[..., Awaitable[Waitpoint]]]:
    """Start Waitpoint instances on the test's schema with fast timings; stopped at the end."""
    started: list[Waitpoint] = []

    async def start(**options: Any) -> Waitpoint:
        url = options.pop("database_url", database_url)
        instance = Waitpoint(url, schema=schema, **{**FAST, **options})
        await instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in reversed(started):
        await instance.stop()


@pytest.fixture
async def wp(start_waitpoint: Callable[..., Awaitable[Waitpoint]]) -> Waitpoint:
    return await start_waitpoint(queues={"default": 10, "approvals": 5, "solo": 1})


async def wait_until(predicate: Callable[[], Awaitable[Any]], timeout: float = 10.0,
                     interval: float = 0.02, message: str = "condition") -> Any:
    """Poll an async predicate until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


@pytest.fixture(autouse=True)
def _fresh_worker_observations() -> None:
    """Job ids restart at 1 in every test schema, so observations are per test."""
    from tests.waitpoint import workers

    workers.seen.clear()
    workers.gates.clear()
