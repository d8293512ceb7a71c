"""Group commit of accepted callbacks: requests that arrive together share one transaction.

Each request submits its event and waits; one writer takes everything waiting, calls
ingest_batch() once (event rows, dedupe, signals, wake-ups, NOTIFY) and answers every
waiter after the COMMIT. Under load, batches grow by themselves; idle, a request waits for
one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import structlog

from waitpoint.retry import Backoff, retry
from waitpoint.sql import within
from waitpoint.supervise import supervised

from .events import EventRecord, Stored
from .receiver_sql import InboxQuery

log = structlog.get_logger("ingest.inbox")

UNAVAILABLE = (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError,
               asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
               asyncpg.ConnectionDoesNotExistError, asyncpg.AdminShutdownError,
               asyncpg.CrashShutdownError, asyncpg.ConnectionFailureError)
"""The database went away (a restart, a failover: asyncpg reports a statement cut in the
middle as InternalClientError): nothing of the batch was committed, answer 503."""
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
COMMIT_ATTEMPTS = 3
"""A batch that deadlocks (or fails to serialise) this often is answered 503."""


class DatabaseUnavailable(Exception):
    """Nothing was committed; the provider should retry (503)."""


class InboxFull(Exception):
    """More events wait for the group commit than the inbox holds: shed load (503)."""


class UnstorableEvent(Exception):
    """PostgreSQL refused this event's data while the database is fine (a data exception,
    SQLSTATE class 22): sending it again cannot help, so it is a 4xx, never a 503."""


Pending = tuple[EventRecord, "asyncio.Future[Stored]"]


class Inbox:
    def __init__(self, pool: asyncpg.Pool, query: InboxQuery, max_batch: int = 500,
                 max_in_flight: int = 4,
                 on_batch: Callable[[int], None] | None = None,
                 max_pending: int = 5000, commit_timeout: float = 10.0) -> None:
        self._max_pending = max_pending
        self._commit_timeout = commit_timeout
        self._pool = pool
        self._query = query
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[Pending] = []
        self._has_pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_batch = on_batch

    def start(self) -> None:
        self._task = asyncio.create_task(supervised("inbox", self._run), name="ingest-inbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in self._pending:
            if not future.done():
                future.set_exception(DatabaseUnavailable("shutting down"))

    async def submit(self, record: EventRecord) -> Stored:
        if len(self._pending) >= self._max_pending:
            raise InboxFull(f"{len(self._pending)} events are waiting")
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

    async def _commit(self, batch: list[Pending]) -> None:
        """Commit `batch` and answer every one of its requests, whatever happens: a
        request the inbox took must never wait without end (it also holds an in-flight
        slot of the receiver)."""
        try:
            await self._commit_batch(batch)
        except Exception as error:  # a bug or an error nobody foresaw: 503, and say so
            log.error("inbox.failed", error=f"{type(error).__name__}: {error}",
                      events=len(batch))
        finally:
            for _, future in batch:
                _fail(future, DatabaseUnavailable("the commit ended without an answer"))

    async def _commit_batch(self, batch: list[Pending]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch))
        records = [record for record, _ in batch]
        try:
            ingested = await retry(
                lambda: within(self._pool, self._commit_timeout,
                               lambda conn: self._query.ingest_batch(conn, records)),
                retry_on=RETRYABLE, attempts=COMMIT_ATTEMPTS, backoff=Backoff(initial=0))
        except RETRYABLE as error:
            log.warning("inbox.deadlocked", events=len(batch), attempts=COMMIT_ATTEMPTS)
            for _, future in batch:
                _fail(future, DatabaseUnavailable(f"deadlocked {COMMIT_ATTEMPTS} times: {error}"))
            return
        except TimeoutError:
            log.warning("inbox.timeout", seconds=self._commit_timeout, events=len(batch))
            for _, future in batch:
                _fail(future, DatabaseUnavailable(f"no answer in {self._commit_timeout:g} s"))
            return
        except UNAVAILABLE as error:
            log.warning("inbox.unavailable", error=str(error), events=len(batch))
            for _, future in batch:
                _fail(future, DatabaseUnavailable(str(error)))
            return
        except asyncpg.PostgresError as error:
            if len(batch) > 1:
                # Find the bad event instead of failing its neighbours: halves, so that one
                # bad event among n costs about 2·log2(n) statements, not n.
                middle = len(batch) // 2
                await self._commit_batch(batch[:middle])
                await self._commit_batch(batch[middle:])
                return
            if isinstance(error, asyncpg.DataError):
                log.warning("inbox.unstorable", error=str(error), source=batch[0][0].source)
                _fail(batch[0][1], UnstorableEvent(str(error)))
                return
            log.error("inbox.failed", error=str(error), source=batch[0][0].source)
            _fail(batch[0][1], DatabaseUnavailable(str(error)))
            return
        for row in ingested:
            _, future = batch[row.item_index - 1]
            if not future.done():
                future.set_result(row.stored)


def _fail(future: asyncio.Future[Stored], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
