"""Provider keys that verification fetches or reads (JWKS URLs and files, Plaid's key API),
cached in one object per receiver app rather than in module globals, so two apps (or two
event loops, as in tests) never share a lock or a stale key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ._base import VerificationError

log = structlog.get_logger("ingest.verify.keys")

REFETCH_AFTER_MISS = 10.0
"""At most one fetch per key source and name in this many seconds when a key is missing
or stale, so forged kids cannot make us hammer a provider's key server."""


@dataclass
class _Entry:
    fetched: float
    value: Any


class KeyCache:
    """Fetched keys by (source, name), with the time they were fetched; files by mtime."""

    def __init__(self, refetch_after: float = REFETCH_AFTER_MISS) -> None:
        self.refetch_after = refetch_after
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._attempts: dict[tuple[str, str], float] = {}
        self._failures: dict[tuple[str, str], VerificationError] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._files: dict[str, tuple[float, Any]] = {}

    def cached(self, source: str, name: str = "") -> Any:
        """The value last fetched for (source, name), however old; None if never."""
        entry = self._entries.get((source, name))
        return None if entry is None else entry.value

    async def refresh(self, source: str, name: str, fetch: Callable[[], Awaitable[Any]], *,
                      fresh_for: float, good_enough: Callable[[Any], bool] | None = None
                      ) -> None:
        """Fetch (source, name) unless a value younger than `fresh_for` is cached (and is
        `good_enough`, e.g. holds the kid asked for) or a fetch was tried too recently.

        A failed fetch (VerificationError) keeps a cached value in use, logged; with
        nothing cached it is raised (keys_unavailable: answered 503, retried). A fetch that
        returns None stores nothing (the provider does not know that key).
        """
        key = (source, name)
        if self._usable(key, fresh_for, good_enough):
            return
        async with self._locks.setdefault(source, asyncio.Lock()):
            if self._usable(key, fresh_for, good_enough):
                return
            now = time.monotonic()
            if now - self._attempts.get(key, -1e9) < self.refetch_after:
                failure = self._failures.get(key)
                if failure is not None and key not in self._entries:
                    # Still unavailable: say so again without asking (a new exception,
                    # so no traceback grows across re-raises).
                    raise VerificationError(failure.reason, failure.detail)
                return
            self._attempts[key] = now
            try:
                value = await fetch()
            except VerificationError as error:
                self._failures[key] = error
                if key in self._entries:
                    log.warning("keys.refresh_failed", source=source, error=error.detail,
                                using="the cached keys")
                    return
                raise
            self._failures.pop(key, None)
            if value is not None:
                self._entries[key] = _Entry(time.monotonic(), value)

    def _usable(self, key: tuple[str, str], fresh_for: float,
                good_enough: Callable[[Any], bool] | None) -> bool:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry.fetched >= fresh_for:
            return False
        return good_enough is None or good_enough(entry.value)

    def file(self, path: str, parse: Callable[[Any], Any]) -> Any:
        """`parse` of a JSON file's content, read again when the file changes; an unreadable
        file is keys_unavailable (the operator's problem, retried)."""
        file = Path(path)
        try:
            stamp = file.stat().st_mtime
            cached = self._files.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, parse(json.loads(file.read_text())))
                self._files[path] = cached
        except (OSError, ValueError) as error:
            raise VerificationError("keys_unavailable",
                                    f"cannot read {path}: {error}") from None
        return cached[1]
