"""The console's SQL, one typed method per file of ingest/console/queries/.

Every list is a keyset page (after an id, newest first) from an index; a filter no index
serves is checked on a bounded number of candidates, and the page says how far it looked.
Rows go to the templates as they come (mappings of column to value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from waitpoint.sql import Connectable, SqlFiles

Row = Mapping[str, Any]

NEWEST = 2**63 - 1
"""The cursor of a first page: before every id."""


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, where the next one starts (None: nothing older), and
    how far a bounded search looked (`examined_to`: the oldest id it read)."""

    rows: list[Row]
    next_cursor: int | None
    examined: int = 0
    examined_to: int | None = None


@dataclass(frozen=True)
class EventFilter:
    source: str | None = None
    outcome: str | None = None
    delivery_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class JobFilter:
    state: str | None = None
    queue: str | None = None
    worker: str | None = None
    tag: str | None = None
    args: str | None = None

    @property
    def needs_search(self) -> bool:
        """Whether a filter no index serves is set (the page is then a bounded search)."""
        return any((self.worker, self.tag, self.args))


def _searched_page(rows: list[Row], size: int, bound: int) -> Page:
    """A page from a bounded candidate scan: the rows that matched, and where to go on."""
    examined = rows[0]["examined"] if rows else 0
    examined_to = rows[0]["examined_to"] if rows else None
    found = [row for row in rows if row["id"] is not None]
    if len(found) > size:
        return Page(found[:size], found[size - 1]["id"], examined, examined_to)
    if examined >= bound and examined_to is not None:
        return Page(found, examined_to, examined, examined_to)  # look further back
    return Page(found, None, examined, examined_to)


class ConsoleQuery:
    def __init__(self, schema: str) -> None:
        self._sql = SqlFiles("ingest.console", "queries", schema)
        self.schema = self._sql.schema

    # overview ------------------------------------------------------------------------------

    async def delivery_totals(self, conn: Connectable) -> list[Row]:
        return list(await conn.fetch(self._sql["delivery_totals"]))

    async def deliveries_per_minute(self, conn: Connectable, *, minutes: int) -> list[Row]:
        return list(await conn.fetch(self._sql["deliveries_per_minute"], minutes))

    async def queue_sample(self, conn: Connectable) -> list[Row]:
        return list(await conn.fetch(self._sql["queue_sample"]))

    async def wait_sample(self, conn: Connectable) -> Row | None:
        row: Row | None = await conn.fetchrow(self._sql["wait_sample"])
        return row

    # deliveries ----------------------------------------------------------------------------

    async def list_events(self, conn: Connectable, *, cursor: int, where: EventFilter,
                          sources: Sequence[str], size: int, bound: int) -> Page:
        """A page of events; with a text filter, at most `bound` candidates are read."""
        text = where.text.encode() if where.text else None
        scan = bound if text is not None else size + 1
        rows = list(await conn.fetch(
            self._sql["list_events"], cursor, where.source, list(sources), where.delivery_id,
            where.outcome, where.since, where.until, text, scan, size + 1))
        return _searched_page(rows, size, scan)

    async def get_event(self, conn: Connectable, event_id: int) -> Row | None:
        row: Row | None = await conn.fetchrow(self._sql["get_event"], event_id)
        return row

    # jobs ---------------------------------------------------------------------------------

    async def list_jobs(self, conn: Connectable, *, cursor: int, where: JobFilter, size: int,
                        bound: int) -> Page:
        """A page of jobs; with worker, tag or args filters, at most `bound` candidates."""
        scan = bound if where.needs_search else size + 1
        rows = list(await conn.fetch(
            self._sql["list_jobs"], cursor, where.state, where.queue, where.worker, where.tag,
            where.args, scan, size + 1))
        return _searched_page(rows, size, scan)

    async def matching_job_ids(self, conn: Connectable, *, cursor: int, where: JobFilter,
                               limit: int) -> list[int]:
        rows = await conn.fetch(self._sql["matching_job_ids"], cursor, where.state, where.queue,
                                where.worker, where.tag, where.args, limit)
        return [row["id"] for row in rows]

    async def count_matching_jobs(self, conn: Connectable, *, where: JobFilter,
                                  limit: int) -> tuple[int, int | None]:
        """(how many jobs match, at most `limit`; the newest one's id)."""
        row = await conn.fetchrow(self._sql["count_matching_jobs"], NEWEST, where.state,
                                  where.queue, where.worker, where.tag, where.args, limit)
        assert row is not None
        return row["matching"], row["newest"]

    async def job_signals(self, conn: Connectable, job_id: int) -> list[Row]:
        return list(await conn.fetch(self._sql["job_signals"], job_id))

    # waiting ------------------------------------------------------------------------------

    async def waiting_jobs(self, conn: Connectable, *, cursor: int, size: int) -> Page:
        rows = list(await conn.fetch(self._sql["waiting_jobs"], cursor, size + 1))
        return _keyset_page(rows, size)

    async def buffered_signals(self, conn: Connectable, *, cursor: int, size: int) -> Page:
        rows = list(await conn.fetch(self._sql["buffered_signals"], cursor, size + 1))
        return _keyset_page(rows, size)

    # workflows ----------------------------------------------------------------------------

    async def list_workflows(self, conn: Connectable, *, cursor: int, state: str | None,
                             size: int) -> Page:
        rows = list(await conn.fetch(self._sql["list_workflows"], cursor, state, size + 1))
        return _keyset_page(rows, size)

    async def get_workflow(self, conn: Connectable, workflow_id: int) -> Row | None:
        row: Row | None = await conn.fetchrow(self._sql["get_workflow"], workflow_id)
        return row

    async def workflow_steps(self, conn: Connectable, workflow_id: int) -> list[Row]:
        return list(await conn.fetch(self._sql["workflow_steps"], workflow_id))

    async def step_names(self, conn: Connectable, workflow_id: int) -> list[str]:
        return [row["name"] for row in await conn.fetch(self._sql["step_names"], workflow_id)]

    # sources ------------------------------------------------------------------------------

    async def source_activity(self, conn: Connectable, sources: Sequence[str]) -> list[Row]:
        return list(await conn.fetch(self._sql["source_activity"], list(sources)))

    async def source_pauses(self, conn: Connectable) -> list[Row]:
        return list(await conn.fetch(self._sql["source_pauses"]))


def _keyset_page(rows: list[Row], size: int) -> Page:
    if len(rows) > size:
        return Page(rows[:size], rows[size - 1]["id"])
    return Page(rows, None)
