"""The Waitpoint instance running in this process, for the module-level helpers
(`signal()`, `Worker.enqueue()`) that are called without one.

Kept apart from the instance itself so that those helpers do not import it (and it them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from ._errors import NoInstanceError
from ._job import Job


class RunningInstance(Protocol):
    """What the module-level helpers use of a started Waitpoint."""

    async def enqueue(self, job: Job) -> Job: ...

    async def signal(self, job_ids: int | Sequence[int] | None = None, payload: Any = None, *,
                     key: str | None = None,
                     keep_for: float | timedelta | None = None,
                     name: str | None = None) -> list[int]: ...


_running: list[RunningInstance] = []


def register(instance: RunningInstance) -> None:
    _running.append(instance)


def unregister(instance: RunningInstance) -> None:
    if instance in _running:
        _running.remove(instance)


def current_instance(action: str) -> RunningInstance:
    """The most recently started instance of this process."""
    if not _running:
        raise NoInstanceError(action)
    return _running[-1]
