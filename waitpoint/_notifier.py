"""One LISTEN connection per node, shared by every producer and every live waiter.

A waiting job never holds a connection: it registers an asyncio.Event here and the
notifier sets it when PostgreSQL announces a signal for that job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator

import asyncpg
import structlog

from ._aio import wait_event
from .retry import Backoff

log = structlog.get_logger("waitpoint.notifier")


class Notifier:
    def __init__(self, database_url: str, channels: dict[str, Callable[[str], None]],
                 on_reconnect: Callable[[], None]) -> None:
        self._url = database_url
        self._channels = channels
        self._on_reconnect = on_reconnect
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="waitpoint-notifier")
        if not await wait_event(self._connected, 30):
            raise TimeoutError("could not open the LISTEN connection within 30 s")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def waiter(self, job_id: int) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            yield event
        finally:
            events = self._waiters.get(job_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[job_id]

    def wake_waiters(self, message: str) -> None:
        if message == "*":
            self.wake_all()
            return
        for part in message.split(","):
            for event in self._waiters.get(int(part), ()):
                event.set()

    def wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def _supervise(self) -> None:
        """Keep one LISTEN connection open for ever: whatever ends it (a restart, a
        failover, a statement cut in the middle), connect again with a growing pause."""
        backoff = Backoff(initial=0.1, maximum=5.0)
        while True:
            try:
                await self._listen(backoff)
                log.warning("notifier.disconnected")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("notifier.connect_failed", error=f"{type(error).__name__}: {error}",
                            retry_in=backoff.delay)
                await backoff.wait()

    async def _listen(self, backoff: Backoff) -> None:
        """Listen on one connection until it closes."""
        closed = asyncio.Event()
        conn = await asyncpg.connect(self._url)
        try:
            conn.add_termination_listener(lambda _conn, done=closed: done.set())
            for channel, handler in self._channels.items():
                await conn.add_listener(channel, self._dispatch(handler))
            backoff.reset()
            if self._connected.is_set():
                log.info("notifier.reconnected")
                # Anything announced while we were away is looked at again.
                self._on_reconnect()
                self.wake_all()
            self._connected.set()
            await closed.wait()
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)

    @staticmethod
    def _dispatch(handler: Callable[[str], None]) -> Callable[..., None]:
        def on_notification(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            try:
                handler(payload)
            except Exception as error:  # a bad payload must not kill the listener
                log.warning("notifier.bad_payload", payload=payload[:200], error=str(error))

        return on_notification
