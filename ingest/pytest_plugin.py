"""pytest fixtures for testing your routes and workers with recorded callbacks.

Installed with waitpoint (entry point `pytest11`), built on pytest-aiohttp and on the
engine's fixtures (waitpoint.pytest_plugin):

    async def test_payment_resumes_the_order(waitpoint_receiver):
        receiver = await waitpoint_receiver("config/routes.yaml", queues={"orders": 5},
                                            env={"STRIPE_WEBHOOK_SECRET": "whsec_test"})
        job = await OrderWorker.enqueue({"order_id": 7})
        replayed = await receiver.replay("tests/recordings/payment_succeeded.json")
        assert replayed.status == 200 and replayed.event["outcome"] == "routed"
        done = await receiver.wait_for_state(job.id, "completed")

Install them with `pip install 'waitpoint[testing]'` (pytest, pytest-aiohttp and the
asyncio plugin it runs on) and set `asyncio_mode = "auto"` in your pytest configuration.

Fixtures (with the engine's `waitpoint_database_url` and `waitpoint_schema`):
- `waitpoint_receiver`: `await waitpoint_receiver(config_path, env=..., queues=...)` starts
  a Waitpoint instance (running those queues) and the receiver app on your config.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import routing
from waitpoint import Job, Waitpoint
from waitpoint.pytest_plugin import require_plugins
from waitpoint.testing import wait_for_state

from .app import create_app
from .receiver_sql import InboxQuery, StoredEvent
from .recording_file import load_recording
from .replay import send_recording

NEEDED_PLUGINS = {"asyncio": "pytest-asyncio", "aiohttp": "pytest-aiohttp"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    require_plugins(config, items, {"waitpoint_receiver"}, NEEDED_PLUGINS)


@dataclass(frozen=True)
class Replayed:
    status: int
    answer: dict[str, Any]
    event: StoredEvent | None  # the stored event (None when nothing was stored)

    @property
    def signals(self) -> list[dict[str, Any]]:
        """What each route signalled: [{route, jobs|key|workflow..., reached}]."""
        if self.event is None:
            return []
        return [{"route": s.route, **s.target, "reached": list(s.reached)}
                for s in self.event.signalled]


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
            event = await InboxQuery(self.waitpoint.schema).get_event(self.waitpoint.pool,
                                                                      result.event_id)
        return Replayed(result.status, result.answer, event)

    async def wait_for_state(self, job_id: int, *states: str, timeout: float = 10.0) -> Job:
        """Poll the job until it is in one of `states` (a real deadline, no sleeps)."""
        return await wait_for_state(self.waitpoint, job_id, *states, timeout=timeout)


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
