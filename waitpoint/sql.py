"""SQL files: each statement is a `.sql` file of a package's folder, rendered for a schema.

The engine's typed query class (`waitpoint._query.Query`) and the receiver's
(`ingest.receiver_sql.InboxQuery`) are built on this, so every statement can be read, reviewed
and tested on its own, and the schema name is checked once before it enters SQL text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import asyncpg

Connectable = asyncpg.Connection | asyncpg.Pool
"""Where a statement runs: a pooled call, or a connection (inside the caller's transaction)."""

T = TypeVar("T")


def text_array_literal(values: Sequence[str] | None) -> str | None:
    """A text[] literal for one element of a batch array whose items differ in length
    (tags, dependencies, signal names): PostgreSQL arrays cannot be ragged, so each travels
    as text and is cast to text[] in SQL."""
    if values is None:
        return None
    return "{" + ",".join('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for value in values) + "}"


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pools' `reset`: what asyncpg does when a connection goes back to its pool,
    after its own cleanup (which rolls back a transaction left open).

    asyncpg's default also sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL` on every release: one more round trip per pooled statement (a third of a group
    commit's wall time, and on the path from a POST to a resumed job). Our statements
    leave no session state behind (LISTEN has its own connection, the migration lock is
    released in a `finally`), so nothing is sent. Code that SETs something on a pooled
    connection must use SET LOCAL, as behind PgBouncer in transaction mode.
    """


BROKEN_PROTOCOL = (asyncpg.InternalClientError, asyncpg.InterfaceError)
"""Errors after which asyncpg's protocol state is unknown (InternalClientError: "cannot
switch to state 12; another operation (2) is in progress", seen when the backend is
terminated mid-statement), or the connection is unusable for this caller."""


class GuardedConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that terminates itself when a statement leaves its protocol
    broken (BROKEN_PROTOCOL), so that its pool replaces it.

    asyncpg finds such a connection with its reset query when the connection goes back to
    its pool; our pools skip that query (keep_session), so without this the pool would
    hand the broken connection out again, and every later statement on it would fail:
    after a failover, a node whose producer, lifeline or inbox drew it stopped for good.
    Terminating is local (no round trip); the caller still gets the error.
    """

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._guarded(super().execute(*args, **kwargs))

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return await self._guarded(super().executemany(*args, **kwargs))

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        return await self._guarded(super().fetch(*args, **kwargs))

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        return await self._guarded(super().fetchrow(*args, **kwargs))

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        return await self._guarded(super().fetchval(*args, **kwargs))

    async def _guarded(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except BROKEN_PROTOCOL:
            self.terminate()
            raise


def pool_options() -> dict[str, Any]:
    """What every pool of waitpoint is created with: no reset query, and connections that
    leave the pool when their protocol breaks."""
    return {"reset": keep_session, "connection_class": GuardedConnection}


async def within(pool: asyncpg.Pool, seconds: float,
                 work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` on a pooled connection, giving up after `seconds` (TimeoutError).

    A frozen database (a socket that answers nothing) would hold a plain cancelled query
    forever: returning its connection to the pool waits for a reset that never comes. On
    timeout the connection is terminated instead (closed locally, no round trip), so the
    caller gets its answer and the pool a fresh connection next time.
    """
    async with asyncio.timeout(seconds):
        conn = await pool.acquire()
    try:
        try:
            async with asyncio.timeout(seconds):
                return await work(conn)
        except TimeoutError:
            conn.terminate()
            raise
    finally:
        await pool.release(conn)


SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


def check_schema(schema: str) -> str:
    """Schema names go into SQL text and channel names, so only plain identifiers pass."""
    if not isinstance(schema, str) or not SCHEMA_PATTERN.match(schema):
        raise ValueError(
            f"schema: {schema!r} must be a lower-case identifier (letters, digits, _; "
            "at most 40 characters)"
        )
    return schema


def strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def render(sql: str, schema: str, fragments: Mapping[str, str] | None = None) -> str:
    """`{schema}` and each `{fragment}` replaced; the schema is checked first."""
    for name, text in (fragments or {}).items():
        sql = sql.replace("{" + name + "}", text)
    return sql.replace("{schema}", check_schema(schema))


@cache
def read_sql_files(package: str, folder: str) -> Mapping[str, str]:
    """{name: text} of every `<folder>/<name>.sql` shipped inside `package`."""
    directory = resources.files(package) / folder
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8")
        for entry in directory.iterdir()
        if entry.name.endswith(".sql")
    }


class SqlFiles:
    """The rendered statements of one folder, by file name.

    `fragment_files` are pieces other statements include as `{name}` (a column list),
    not statements of their own; `shared_fragments` are another folder's (`SqlFiles.fragments`) (one
    column list for every query that returns a job).
    """

    def __init__(self, package: str, folder: str, schema: str,
                 fragment_files: tuple[str, ...] = (),
                 shared_fragments: Mapping[str, str] | None = None) -> None:
        raw = dict(read_sql_files(package, folder))
        fragments = dict(shared_fragments or {})
        fragments |= {name: strip_comments(raw.pop(name)).strip() for name in fragment_files}
        self.fragments: Mapping[str, str] = fragments
        self.schema = check_schema(schema)
        self._rendered = {name: render(sql, schema, fragments) for name, sql in raw.items()}

    def __getitem__(self, name: str) -> str:
        return self._rendered[name]
