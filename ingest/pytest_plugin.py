"""pytest fixtures for testing your routes and workers with recorded callbacks.

Installed with waitpoint (entry point `pytest11`), built on pytest-aiohttp:

    async def test_payment_resumes_the_order(waitpoint_receiver):
        receiver = await waitpoint_receiver("config/routes.yaml", queues={"orders": 5},
                                            env={"STRIPE_WEBHOOK_SECRET": "whsec_test"})
        job = await OrderWorker.enqueue({"order_id": 7})
        replayed = await receiver.replay("tests/recordings/payment_succeeded.json")
        assert replayed.status == 200 and replayed.event["outcome"] == "routed"
        done = await receiver.wait_for_state(job.id, "completed")

Fixtures:
- `waitpoint_database_url`: $DATABASE_URL, else an embedded PostgreSQL for the session.
- `waitpoint_schema`: a fresh, migrated schema per test (dropped afterwards).
- `waitpoint_receiver`: `await waitpoint_receiver(config_path, env=..., queues=...)` starts
  a Waitpoint instance (running those queues) and the receiver app on your config.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import routing
from waitpoint import Job, Waitpoint
from waitpoint._migrate import migrate

from .app import create_app
from .recording import load_recording
from .replay import send_recording


@dataclass(frozen=True)
class Replayed:
    status: int
    answer: dict[str, Any]
    event: dict[str, Any] | None  # the stored event row (None when nothing was stored)
    signals: list[dict[str, Any]]  # what each route signalled: [{route, jobs|key, reached}]


class ReceiverHarness:
    def __init__(self, client: Any, waitpoint: Waitpoint, config: routing.RoutingConfig) -> None:
        self.client = client
        self.waitpoint = waitpoint
        self.config = config

    async def replay(self, path: str | os.PathLike[str], resign: bool = True,
                     signing_key: Any = None) -> Replayed:
        """Send a recording to the receiver (re-signed by default) and fetch what it stored.
        Public-key schemes re-sign with `signing_key`, the private key of the config's
        public key."""
        recording = load_recording(Path(path))
        base = str(self.client.make_url("/")).rstrip("/")
        keys = {recording.source: signing_key} if signing_key is not None else None
        result = await send_recording(self.client.session, base, recording, str(path),
                                      self.config if resign else None, keys)
        event = None
        if result.event_id is not None:
            row = await self.waitpoint.pool.fetchrow(self.waitpoint.queries.get_event,
                                                     result.event_id)
            if row is not None:
                event = {**dict(row), "signals": json.loads(row["signals"]),
                         "errors": json.loads(row["errors"]),
                         "headers": json.loads(row["headers"]), "body": bytes(row["body"])}
        return Replayed(result.status, result.answer, event,
                        event["signals"] if event else [])

    async def wait_for_state(self, job_id: int, *states: str, timeout: float = 10.0) -> Job:
        """Poll the job until it is in one of `states` (a real deadline, no sleeps)."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.waitpoint.get_job(job_id)
            if job is not None and str(job.state) in states:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job.state if job else 'gone'}, "
                                     f"not {'/'.join(states)}, after {timeout}s")
            await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
def waitpoint_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from waitpoint._database import start_embedded

    return start_embedded(tmp_path_factory.mktemp("waitpoint-pg") / "pgdata")


@pytest.fixture
async def waitpoint_schema(waitpoint_database_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(waitpoint_database_url)
    try:
        await migrate(conn, name)
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


@pytest.fixture
async def waitpoint_receiver(
    waitpoint_database_url: str, waitpoint_schema: str, aiohttp_client: Any,
) -> AsyncIterator[Callable[..., Awaitable[ReceiverHarness]]]:
    started: list[Waitpoint] = []

    async def start(config_path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                    queues: dict[str, int] | None = None, **options: Any) -> ReceiverHarness:
        config = routing.load_config(config_path, {**os.environ, **(env or {})})
        instance = Waitpoint(waitpoint_database_url, schema=waitpoint_schema,
                             queues=queues if queues is not None else {"default": 10},
                             poll_interval=0.5, stage_interval=0.1)
        await instance.start()
        started.append(instance)
        client = await aiohttp_client(create_app(config, instance, **options))
        return ReceiverHarness(client, instance, config)

    yield start
    for instance in reversed(started):
        await instance.stop()
