"""The console's SQL over the receiver's own tables (events, delivery_counts,
source_pauses), one typed method per file of ingest/console/queries/. What it shows of
jobs, waits and workflows comes from the engine's read model (waitpoint.inspect).

Every list is a keyset page (after an id, newest first) from an index; a text search is
checked on a bounded number of candidates, and the page says how far it looked. Rows go
to the templates as they come (mappings of column to value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from waitpoint.inspect import Page, searched_page
from waitpoint.sql import Connectable, SqlFiles

Row = Mapping[str, Any]


@dataclass(frozen=True)
class EventFilter:
    source: str | None = None
    outcome: str | None = None
    delivery_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


class ConsoleQuery:
    def __init__(self, schema: str) -> None:
        self._sql = SqlFiles("ingest.console", "queries", schema)
        self.schema = self._sql.schema

    # overview ------------------------------------------------------------------------------

    async def delivery_totals(self, conn: Connectable) -> list[Row]:
        return list(await conn.fetch(self._sql["delivery_totals"]))

    async def deliveries_per_minute(self, conn: Connectable, *, minutes: int) -> list[Row]:
        return list(await conn.fetch(self._sql["deliveries_per_minute"], minutes))

    # deliveries ----------------------------------------------------------------------------

    async def list_events(self, conn: Connectable, *, cursor: int, where: EventFilter,
                          sources: Sequence[str], size: int, bound: int) -> Page[Row]:
        """A page of events; with a text filter, at most `bound` candidates are read."""
        text = where.text.encode() if where.text else None
        scan = bound if text is not None else size + 1
        rows = list(await conn.fetch(
            self._sql["list_events"], cursor, where.source, list(sources), where.delivery_id,
            where.outcome, where.since, where.until, text, scan, size + 1))
        return searched_page(rows, size, scan, lambda row: row)

    async def get_event(self, conn: Connectable, event_id: int) -> Row | None:
        row: Row | None = await conn.fetchrow(self._sql["get_event"], event_id)
        return row

    # sources ------------------------------------------------------------------------------

    async def source_activity(self, conn: Connectable, sources: Sequence[str]) -> list[Row]:
        return list(await conn.fetch(self._sql["source_activity"], list(sources)))

    async def source_pauses(self, conn: Connectable) -> list[Row]:
        return list(await conn.fetch(self._sql["source_pauses"]))
