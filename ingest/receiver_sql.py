"""The receiver's own SQL, one typed method per file of ingest/queries/, and its own
migration track (ingest/migrations/: the events table and the functions that write it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from waitpoint.schema import MigrationTrack
from waitpoint.sql import Connectable, SqlFiles

from .events import EventRecord, Signalled, Stored, batch_columns, storable_json

INGEST_TRACK = MigrationTrack("ingest", "ingest")
"""Applied by `waitpoint migrate` after the engine's track (events build on jobs)."""

RECEIVER_TRACKS = (INGEST_TRACK,)

CountKey = tuple[int, str, str, str]
"""(minute since the epoch, source, kind, name) of the delivery counts: kind 'outcome'
or 'rejected'."""


def _signalled(text: str | None) -> tuple[Signalled, ...]:
    return tuple(Signalled.from_json(entry) for entry in json.loads(text)) if text else ()


@dataclass(frozen=True)
class Ingested:
    """One row of ingest_batch(): batch position (from 1) and what was stored."""

    item_index: int
    stored: Stored


@dataclass(frozen=True)
class StoredEvent:
    id: int
    source: str
    delivery_id: str
    outcome: str
    signalled: tuple[Signalled, ...]
    errors: list[dict[str, Any]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class EventToReplay:
    id: int
    source: str
    delivery_id: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class InboxQuery:
    """The receiver's statements for one schema."""

    def __init__(self, schema: str) -> None:
        self._sql = SqlFiles("ingest", "queries", schema)
        self.schema = self._sql.schema

    async def ingest_batch(self, conn: Connectable,
                           events: Sequence[EventRecord]) -> list[Ingested]:
        """Store a batch in one statement: events (deduplicated), signals, wake-ups. The
        batch travels as typed arrays (binary on the wire, bodies and payloads as bytes)."""
        rows = await conn.fetch(self._sql["ingest_batch"], *batch_columns(events))
        return [Ingested(row["item_index"], Stored(row["event_id"], row["is_duplicate"],
                                                   _signalled(row["signalled"])))
                for row in rows]

    async def prune_events(self, conn: Connectable, *, retentions: dict[str, float],
                           default: float, batch: int) -> int | None:
        """Delete up to `batch` events past their retention (seconds, per source, else
        `default`); the number deleted, or None when another process is pruning."""
        deleted: int = await conn.fetchval(self._sql["prune_events"], list(retentions),
                                           list(retentions.values()), default, batch)
        return None if deleted < 0 else deleted

    async def prune_replay_guard(self, conn: Connectable, *, batch: int) -> int:
        """Forget up to `batch` replay keys past their window; the number forgotten."""
        deleted: int = await conn.fetchval(self._sql["prune_replay_guard"], batch)
        return deleted

    async def get_event(self, conn: Connectable, event_id: int) -> StoredEvent | None:
        row = await conn.fetchrow(self._sql["get_event"], event_id)
        if row is None:
            return None
        return StoredEvent(id=row["id"], source=row["source"], delivery_id=row["delivery_id"],
                           outcome=row["outcome"], signalled=_signalled(row["signals"]),
                           errors=json.loads(row["errors"]), headers=json.loads(row["headers"]),
                           body=bytes(row["body"]))

    async def events_to_replay(self, conn: Connectable, *, source: str | None,
                               since: datetime | None, outcome: str | None,
                               ids: Sequence[int] | None) -> list[EventToReplay]:
        rows = await conn.fetch(self._sql["events_to_replay"], source, since, outcome,
                                list(ids) if ids else None)
        return [EventToReplay(id=row["id"], source=row["source"],
                              delivery_id=row["delivery_id"], path=row["path"],
                              query=json.loads(row["query"]), headers=json.loads(row["headers"]),
                              body=bytes(row["body"])) for row in rows]

    async def replay_event(self, conn: Connectable, *, event_id: int, record: EventRecord,
                           force: bool) -> tuple[Signalled, ...] | None:
        """Deliver `record`'s deliveries for a stored event again and store its new outcome;
        None when the event already signalled someone and `force` is false."""
        signalled = await conn.fetchval(
            self._sql["replay_event"], event_id,
            storable_json(json.dumps([delivery.to_json() for delivery in record.deliveries])),
            record.outcome, storable_json(json.dumps(record.errors)), force)
        return None if signalled is None else _signalled(signalled)

    async def add_delivery_counts(self, conn: Connectable,
                                  counts: Mapping[CountKey, int]) -> None:
        """Add counts per (minute, source, kind, name) to the shared table."""
        minutes, sources, kinds, names = (list(column) for column in zip(*counts, strict=True))
        await conn.execute(self._sql["add_delivery_counts"],
                           [datetime.fromtimestamp(minute * 60, UTC) for minute in minutes],
                           sources, kinds, names, list(counts.values()))

    async def prune_delivery_counts(self, conn: Connectable, *, older_than: float) -> None:
        await conn.execute(self._sql["prune_delivery_counts"], older_than)

    async def paused_sources(self, conn: Connectable) -> set[str]:
        return {row["source"] for row in await conn.fetch(self._sql["paused_sources"])}

    async def set_source_pause(self, conn: Connectable, *, source: str, who: str,
                               pause: bool) -> bool:
        """Pause or resume `source` for every receiver process; whether anything changed."""
        changed: bool = await conn.fetchval(self._sql["set_source_pause"], source, who, pause)
        return changed

    def sources_channel(self) -> str:
        """Where set_source_pause() announces a change: {"source": ..., "paused": ...}."""
        return f"{self.schema}_sources"
