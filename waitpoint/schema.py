"""Migrations: numbered .sql files in ordered tracks, applied once each, safely from
several processes.

A track is one package's own list (the engine's `waitpoint` track; the receiver brings
`ingest`). `migrate()` applies the engine's track first, then the others in the order
given, under one advisory lock per schema. A package installed beside the engine offers
its track through the entry point group `waitpoint.migration_tracks` (`installed_tracks()`),
so the engine's command line and test fixtures migrate it without importing it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable

import asyncpg
import structlog

from ._errors import MigrationError
from .sql import SqlFiles, check_schema, render

log = structlog.get_logger("waitpoint.migrate")
_NAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    track: str
    version: int
    name: str
    file: Traversable

    @property
    def label(self) -> str:
        return f"{self.track}/{self.version:03d}_{self.name}"


@dataclass(frozen=True)
class MigrationTrack:
    """The migrations shipped in `package`'s `folder`, numbered NNN_description.sql."""

    name: str
    package: str
    folder: str = "migrations"

    def migrations(self) -> list[Migration]:
        return list(_track_migrations(self))


@cache
def _track_migrations(track: MigrationTrack) -> tuple[Migration, ...]:
    """A track's files, read once per process: /readyz asks on every probe."""
    directory = resources.files(track.package) / track.folder
    found = []
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if not match:
            raise MigrationError(f"{track.package}/{track.folder}/{entry.name}: migration "
                                 "files are named NNN_description.sql")
        found.append(Migration(track.name, int(match[1]), match[2], entry))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{track.package}/{track.folder}: two migrations share a number")
    return tuple(found)


ENGINE_TRACK = MigrationTrack("waitpoint", "waitpoint")
TRACKS_ENTRY_POINTS = "waitpoint.migration_tracks"


@cache
def installed_tracks() -> tuple[MigrationTrack, ...]:
    """The migration tracks of the packages installed beside the engine (entry points of
    group `waitpoint.migration_tracks`, each a MigrationTrack), by name."""
    tracks = []
    for entry in sorted(metadata.entry_points(group=TRACKS_ENTRY_POINTS), key=lambda e: e.name):
        track = entry.load()
        if not isinstance(track, MigrationTrack):
            raise MigrationError(f"entry point {entry.name} = {entry.value} "
                                 f"({TRACKS_ENTRY_POINTS}) is not a MigrationTrack")
        tracks.append(track)
    return tuple(tracks)


def _ordered(tracks: Sequence[MigrationTrack]) -> list[MigrationTrack]:
    """The engine's track first (the others build on its tables), each track once."""
    ordered = [ENGINE_TRACK]
    for track in tracks:
        if track not in ordered:
            ordered.append(track)
    return ordered


def available_migrations(tracks: Sequence[MigrationTrack] = ()) -> list[Migration]:
    return [m for track in _ordered(tracks) for m in track.migrations()]


@cache
def _bookkeeping(schema: str) -> SqlFiles:
    return SqlFiles("waitpoint", "migrator", schema)


async def applied_versions(conn: asyncpg.Connection, schema: str) -> set[tuple[str, int]]:
    """(track, version) of every applied migration (none before the first)."""
    sql = _bookkeeping(check_schema(schema))
    if not await conn.fetchval(sql["migrations_table_exists"]):
        return set()
    return {(row["track"], row["version"]) for row in await conn.fetch(sql["applied_migrations"])}


async def pending_migrations(conn: asyncpg.Connection, schema: str,
                             tracks: Sequence[MigrationTrack] = ()) -> list[Migration]:
    done = await applied_versions(conn, schema)
    return [m for m in available_migrations(tracks) if (m.track, m.version) not in done]


async def migrate(conn: asyncpg.Connection, schema: str = "waitpoint",
                  tracks: Sequence[MigrationTrack] = ()) -> list[Migration]:
    """Apply the pending migrations of the engine and of `tracks`; returns those applied
    by this call. Each migration runs in its own transaction."""
    sql = _bookkeeping(check_schema(schema))
    await conn.execute(sql["lock_migrations"])
    try:
        await conn.execute(sql["create_migrations_table"])
        applied = []
        for migration in await pending_migrations(conn, schema, tracks):
            statements = render(migration.file.read_text(encoding="utf-8"), schema)
            async with conn.transaction():
                await conn.execute(statements)
                await conn.execute(sql["record_migration"], migration.track,
                                   migration.version, migration.name, None)
            log.info("migration.applied", schema=schema, migration=migration.label)
            applied.append(migration)
        return applied
    finally:
        await conn.execute(sql["unlock_migrations"])


async def ensure_current(conn: asyncpg.Connection, schema: str,
                         tracks: Sequence[MigrationTrack] = ()) -> None:
    pending = await pending_migrations(conn, schema, tracks)
    if pending:
        names = ", ".join(m.label for m in pending)
        raise MigrationError(
            f"schema {schema!r} is missing migrations ({names}): run `waitpoint migrate`"
        )
