"""A small base for background duties that run every `interval` seconds until stopped."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from ._aio import wait_event

log = structlog.get_logger("waitpoint")


class PeriodicDuty:
    """Runs `run_once()` now and then every `interval` seconds; errors are logged, not fatal."""

    name = "duty"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"waitpoint-{self.name}")

    def kick(self) -> None:
        """Run again now instead of at the next tick."""
        self._kick.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            self._kick.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(f"{self.name}.failed", error=f"{type(error).__name__}: {error}")
            await wait_event(self._kick, self.interval)
