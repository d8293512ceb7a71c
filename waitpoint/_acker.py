"""Group commit of job outcomes: acks that arrive together are written in one statement."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("waitpoint.acker")


@dataclass(frozen=True, slots=True)
class Ack:
    job_id: int
    state: str
    delay: float | None = None
    error: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    attempt_change: int = 0


class Acker:
    def __init__(self, pool: asyncpg.Pool, sql: str) -> None:
        self._pool = pool
        self._sql = sql
        self._pending: list[Ack] = []
        self._has_pending = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="waitpoint-acker")

    def ack(self, ack: Ack) -> None:
        self._pending.append(ack)
        self._idle.clear()
        self._has_pending.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until every ack so far is committed; False if that took too long."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def stop(self, timeout: float = 10.0) -> None:
        if not await self.drain(timeout):
            log.error("acker.unflushed", jobs=[a.job_id for a in self._pending],
                      hint="these jobs stay executing and the lifeline will rescue them")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._has_pending.wait()
            self._has_pending.clear()
            batch, self._pending = self._pending, []
            try:
                await self._flush(batch)
                delay = 0.05
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("acker.flush_failed", error=str(error), jobs=len(batch), retry_in=delay)
                self._pending = batch + self._pending
                self._has_pending.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not self._pending:
                self._idle.set()

    async def _flush(self, batch: list[Ack]) -> None:
        await self._pool.execute(
            self._sql,
            [a.job_id for a in batch],
            [a.state for a in batch],
            [a.delay for a in batch],
            [None if a.error is None else json.dumps(a.error) for a in batch],
            [None if a.meta is None else json.dumps(a.meta) for a in batch],
            [a.attempt_change for a in batch],
        )
