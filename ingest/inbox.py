"""Group commit of accepted callbacks: requests that arrive together share one transaction.

Each request submits its event and waits; one writer takes everything waiting, calls
ingest_events() once (event rows, dedupe, signals, wake-ups, NOTIFY) and answers every
waiter after the COMMIT. Under load, batches grow by themselves; idle, a request waits for
one round trip.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("ingest.inbox")

UNAVAILABLE = (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
               asyncpg.TooManyConnectionsError, asyncpg.ConnectionDoesNotExistError,
               asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
               asyncpg.ConnectionFailureError)
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


class DatabaseUnavailable(Exception):
    """Nothing was committed; the provider should retry (503)."""


@dataclass(frozen=True)
class Stored:
    event_id: int
    duplicate: bool
    signals: list[dict[str, Any]]


@dataclass
class EventRecord:
    source: str
    delivery_id: str
    body: bytes
    outcome: str
    method: str = "POST"
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # payload: erlpack bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "delivery_id": self.delivery_id, "method": self.method,
            "path": self.path, "query": self.query, "headers": self.headers,
            "body": base64.b64encode(self.body).decode("ascii"), "outcome": self.outcome,
            "errors": self.errors,
            "deliveries": [{**d, "payload": base64.b64encode(d["payload"]).decode("ascii")}
                           for d in self.deliveries],
        }


class Inbox:
    def __init__(self, pool: asyncpg.Pool, sql: str, max_batch: int = 500,
                 max_in_flight: int = 4, on_batch: Any = None) -> None:
        self._pool = pool
        self._sql = sql
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[tuple[EventRecord, asyncio.Future[Stored]]] = []
        self._has_pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_batch = on_batch

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-inbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in self._pending:
            if not future.done():
                future.set_exception(DatabaseUnavailable("shutting down"))

    async def submit(self, record: EventRecord) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        self._has_pending.set()
        return await future

    async def _run(self) -> None:
        """Start a batch whenever requests wait and fewer than `max_in_flight` batches are
        committing: one database backend alone would bound the receiver's throughput."""
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            await self._has_pending.wait()
            self._has_pending.clear()
            while self._pending:
                if len(in_flight) >= self._max_in_flight:
                    _, in_flight = await asyncio.wait(in_flight,
                                                      return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
                in_flight.add(asyncio.create_task(self._commit(batch)))

    async def _commit(self, batch: list[tuple[EventRecord, asyncio.Future[Stored]]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for attempt in range(3):
            try:
                rows = await self._pool.fetch(
                    self._sql, json.dumps([record.as_json() for record, _ in batch]))
            except RETRYABLE:
                if attempt < 2:
                    continue
                rows = None
            except UNAVAILABLE as error:
                log.warning("inbox.unavailable", error=str(error), events=len(batch))
                for _, future in batch:
                    _fail(future, DatabaseUnavailable(str(error)))
                return
            except asyncpg.PostgresError as error:
                if len(batch) > 1:
                    # Find the bad event instead of failing its neighbours.
                    for item in batch:
                        await self._commit([item])
                    return
                log.error("inbox.failed", error=str(error), source=batch[0][0].source)
                _fail(batch[0][1], DatabaseUnavailable(str(error)))
                return
            break
        if rows is None:
            for _, future in batch:
                _fail(future, DatabaseUnavailable("deadlocked three times"))
            return
        for row in rows:
            _, future = batch[row["item_index"] - 1]
            if not future.done():
                signalled = json.loads(row["signalled"]) if row["signalled"] else []
                future.set_result(Stored(row["event_id"], row["is_duplicate"], signalled))


def _fail(future: asyncio.Future[Stored], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
