"""Which sources an operator paused (the console's Sources page), as every receiver
process knows it.

The table (migration 007) is the truth; NOTIFY on the sources channel tells each process
at once, and a process that was disconnected reads the table again when it reconnects. A
re-read every RELOAD_INTERVAL seconds bounds how stale a process can be even if a
notification were lost in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any

import asyncpg
import structlog

from waitpoint.listen import Notifier

from .periodic import Periodic
from .receiver_sql import InboxQuery

log = structlog.get_logger("ingest.pauses")

RELOAD_INTERVAL = 30.0


class SourcePauses:
    def __init__(self, pool: asyncpg.Pool, query: InboxQuery, listen_url: str) -> None:
        self.pool = pool
        self.query = query
        self.paused: frozenset[str] = frozenset()
        self._notifier = Notifier(listen_url, {query.sources_channel(): self._on_change},
                                  on_reconnect=self._reload_soon)
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic = Periodic("pauses", RELOAD_INTERVAL, self.reload)

    def is_paused(self, source: str) -> bool:
        return source in self.paused

    async def start(self) -> None:
        await self._notifier.start()
        await self.reload()  # after LISTEN: a change made in between is not missed
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._notifier.stop()

    async def reload(self) -> None:
        paused = frozenset(await self.query.paused_sources(self.pool))
        if paused != self.paused:
            log.info("sources.paused", sources=sorted(paused))
        self.paused = paused

    def _on_change(self, message: str) -> None:
        change = json.loads(message)
        source = str(change["source"])
        self.paused = (self.paused | {source}) if change["paused"] else (self.paused - {source})
        log.info("sources.paused", sources=sorted(self.paused))

    def _reload_soon(self) -> None:
        self._spawn(self._reload_logged())

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except Exception as error:  # the database going away, or a bug: the next reload
            log.warning("sources.reload_failed", error=f"{type(error).__name__}: {error}")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
