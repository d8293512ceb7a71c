"""A receiver duty run every few seconds in a task of its own (event retention, the
delivery counts): started with the app, stopped with it, and kept going through database
errors, which are logged and tried again at the next round."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("ingest")


class Periodic:
    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[object]],
                 *, first_at_start: bool = False) -> None:
        self.name = name
        self.interval = interval
        self._work = work
        self._first_at_start = first_at_start
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ingest-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        if not self._first_at_start:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database going away, or a bug: never fatal
                log.warning(f"{self.name}.failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(self.interval)
