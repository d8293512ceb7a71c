"""The inbox's group commit when things go wrong: a bad event does not fail its batch, and
a deadlock is retried, against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

import routing
from ingest.events import Delivery, EventRecord
from ingest.inbox import Inbox, UnstorableEvent
from ingest.receiver_sql import InboxQuery
from waitpoint import Job, codec

from ..conftest import wait_until


class CountingQuery(InboxQuery):
    """The real statements, counting how often the batch statement runs."""

    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.calls: list[int] = []

    async def ingest_batch(self, conn, events):  # type: ignore[no-untyped-def]
        self.calls.append(len(events))
        return await super().ingest_batch(conn, events)


def event(delivery_id: str, job_id: int | str, header: str = "ok") -> EventRecord:
    return EventRecord(
        source="s", delivery_id=delivery_id, body=b"{}", outcome="routed",
        headers={"x-note": header},
        deliveries=[Delivery("r", routing.JobTarget((job_id,)),  # type: ignore[arg-type]
                             codec.encode({"n": 1}))])


@pytest.fixture
async def waiting_job(start_waitpoint):
    wp = await start_waitpoint(queues={})
    (job,) = await wp.enqueue_many([Job(worker="tests.Waiting", state="suspended")])
    return wp, job


async def test_what_postgresql_cannot_hold_in_text_is_stored_replaced(waiting_job):
    """NUL and lone surrogates in the searchable copies (delivery id, query, headers) are
    replaced by U+FFFD; the raw body keeps its bytes. Before, such an event failed with a
    503 on every retry: a poison message."""
    wp, job = waiting_job
    inbox = Inbox(wp.pool, InboxQuery(wp.schema))
    inbox.start()
    try:
        record = event("nul\u0000id", job.id, header="a\u0000b\ud800c")
        record.query = {"x": "\u0000"}
        record.body = b'{"x": "\\u0000"}'
        stored = await inbox.submit(record)
    finally:
        await inbox.stop()
    assert stored.signalled[0].reached == (job.id,)
    row = await wp.pool.fetchrow(
        f"SELECT delivery_id, query::text, headers ->> 'x-note' AS note, body "
        f"FROM {wp.schema}.events WHERE id = $1", stored.event_id)
    assert row["delivery_id"] == "nul\ufffdid" and row["note"] == "a\ufffdb\ufffdc"
    assert "\ufffd" in row["query"] and bytes(row["body"]) == b'{"x": "\\u0000"}'


async def test_a_bad_event_fails_alone_and_its_batch_neighbours_commit(waiting_job):
    wp, job = waiting_job
    query = CountingQuery(wp.schema)
    inbox = Inbox(wp.pool, query)
    # Submitted before the writer starts, so the three share one batch. A job id that is
    # not a number fails the batch statement (a data exception, as PostgreSQL raises them).
    submitted = [asyncio.create_task(inbox.submit(event(name, target)))
                 for name, target in (("a", job.id), ("b", "not-a-number"), ("c", job.id))]
    await wait_until(lambda: _all_pending(inbox, 3), message="three pending events")
    inbox.start()
    try:
        results = await asyncio.gather(*submitted, return_exceptions=True)
    finally:
        await inbox.stop()
    assert query.calls == [3, 1, 2, 1, 1]  # the batch, then halves down to the bad one
    assert not results[0].duplicate and not results[2].duplicate
    assert isinstance(results[1], UnstorableEvent)  # a 400: retrying cannot help
    stored = await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.events")
    assert stored == 2


async def _all_pending(inbox: Inbox, count: int) -> bool:
    return len(inbox._pending) == count


async def test_a_deadlocked_batch_is_committed_on_its_retry(waiting_job, database_url):
    wp, job = waiting_job
    query = CountingQuery(wp.schema)
    inbox = Inbox(wp.pool, query)
    inbox.start()
    other = await asyncpg.connect(database_url)
    try:
        # The inbox locks a batch's jobs before it writes its events. The other transaction
        # holds the event's delivery id first and then wants the job the inbox holds: a lock
        # cycle. Its longer deadlock_timeout makes the inbox the one PostgreSQL aborts.
        await other.execute("SET deadlock_timeout = '30s'")
        transaction = other.transaction()
        await transaction.start()
        await other.execute(
            f"INSERT INTO {wp.schema}.events (source, delivery_id, method, path, query, "
            "headers, body, outcome, errors) VALUES ('s', 'd-1', 'POST', '', '{}', '{}', "
            "'', 'routed', '[]')")
        submitted = asyncio.create_task(inbox.submit(event("d-1", job.id)))
        await wait_until(lambda: _waiting_on_a_lock(other, exclude=other), timeout=10,
                         message="the inbox to wait for the delivery id")
        insert = asyncio.create_task(other.execute(
            f"SELECT 1 FROM {wp.schema}.jobs WHERE id = $1 FOR UPDATE", job.id))
        await wait_until(lambda: _attempts(query, 2), timeout=15,
                         message="the inbox to retry after the deadlock")
        await insert
        await transaction.rollback()  # the other side gives up: the retry goes through
        stored = await asyncio.wait_for(submitted, timeout=15)
    finally:
        await other.close()
        await inbox.stop()
    assert not stored.duplicate
    assert stored.signalled[0].reached == (job.id,)


async def test_a_batch_waiting_for_a_job_holds_no_event_row(waiting_job, database_url):
    """Jobs are locked before events are written: a transaction that holds the job and
    then writes the same delivery id is not blocked (no lock cycle, no deadlock), and the
    inbox then finds the event stored: a duplicate, which signals nobody."""
    wp, job = waiting_job
    query = CountingQuery(wp.schema)
    inbox = Inbox(wp.pool, query)
    inbox.start()
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute(f"SELECT 1 FROM {wp.schema}.jobs WHERE id = $1 FOR UPDATE",
                                job.id)
            submitted = asyncio.create_task(inbox.submit(event("d-1", job.id)))
            await wait_until(lambda: _waiting_on_a_lock(other, exclude=other), timeout=10,
                             message="the inbox to wait for the job's lock")
            await asyncio.wait_for(other.execute(
                f"INSERT INTO {wp.schema}.events (source, delivery_id, method, path, query, "
                "headers, body, outcome, errors) VALUES ('s', 'd-1', 'POST', '', '{}', '{}', "
                "'', 'routed', '[]')"), timeout=10)
        stored = await asyncio.wait_for(submitted, timeout=15)
    finally:
        await other.close()
        await inbox.stop()
    assert stored.duplicate and stored.reached == 0
    assert len(query.calls) == 1
    assert await wp.pool.fetchval(
        f"SELECT count(*) FROM {wp.schema}.signals WHERE job_id = $1", job.id) == 0


async def _waiting_on_a_lock(conn: asyncpg.Connection, exclude: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND pid <> $1 AND datname = current_database()", exclude.get_server_pid()))


async def _attempts(query: CountingQuery, count: int) -> bool:
    return len(query.calls) >= count


@pytest.mark.parametrize(("value", "stored"), [
    ("a\u0000b", "a\ufffdb"), ("\ud800", "\ufffd"), ("x\udfffy", "x\ufffdy"),
    ("\U0001f600", "\U0001f600"),            # a surrogate pair is one character: kept
    ("back\\u0000slash", "back\\u0000slash"),  # an escaped backslash, not an escape: kept
    ("plain", "plain"),
])
def test_only_what_postgresql_refuses_is_replaced(value, stored):
    import json

    from ingest.events import storable_json

    assert json.loads(storable_json(json.dumps({"v": value}))) == {"v": stored}
