"""The Job record (Oban's model) and its states."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from . import codec


class JobState(StrEnum):
    AVAILABLE = "available"
    SCHEDULED = "scheduled"
    SUSPENDED = "suspended"
    EXECUTING = "executing"
    RETRYABLE = "retryable"
    COMPLETED = "completed"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"


INSERTABLE_STATES = frozenset({JobState.AVAILABLE, JobState.SCHEDULED, JobState.SUSPENDED})
_STATES = {state.value: state for state in JobState}
"""A dict lookup instead of JobState(value): rows are turned into jobs by the thousand."""


@dataclass
class Job:
    """One unit of work. Built with `MyWorker.new(args)`, or directly.

    >>> job = Job(worker="myapp.workers.Mailer", args={"to": "a@example.com"}, queue="mail")
    >>> job.tags
    []
    """

    worker: str
    args: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    state: JobState | str = JobState.AVAILABLE
    queue: str = "default"
    attempt: int = 0
    max_attempts: int = 20
    priority: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    attempted_by: list[str] | None = None
    inserted_at: datetime | None = None
    scheduled_at: datetime | None = None
    attempted_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    discarded_at: datetime | None = None
    schedule_in: float | timedelta | None = None
    workflow_id: int | None = None
    step: str | None = None
    deps: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Runtime-only information (never persisted), e.g. extra["conflicted"]."""

    _cancel_requested: asyncio.Event | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.worker, str) or not self.worker.strip():
            raise ValueError("worker: must be a non-blank string")
        if not isinstance(self.queue, str) or not self.queue.strip():
            raise ValueError("queue: must be a non-blank string")
        if not isinstance(self.max_attempts, int) or self.max_attempts <= 0:
            raise ValueError(f"max_attempts: must be a positive integer, got {self.max_attempts!r}")
        if not isinstance(self.priority, int) or not 0 <= self.priority <= 9:
            raise ValueError(f"priority: must be an integer from 0 to 9, got {self.priority!r}")
        if not isinstance(self.args, dict):
            raise ValueError(f"args: must be a dict, got {type(self.args).__name__}")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta: must be a dict, got {type(self.meta).__name__}")
        try:
            self.state = JobState(self.state)
        except ValueError:
            raise ValueError(f"state: unknown job state {self.state!r}") from None
        if isinstance(self.schedule_in, timedelta):
            self.schedule_in = self.schedule_in.total_seconds()
        if self.schedule_in is not None and self.state is JobState.AVAILABLE:
            self.state = JobState.SCHEDULED
        self.tags = sorted({str(tag).strip().lower() for tag in self.tags} - {""})

    def cancelled(self) -> bool:
        """True once cancel_job() was called for this job while it runs (cooperative)."""
        return self._cancel_requested is not None and self._cancel_requested.is_set()

    @property
    def recorded(self) -> Any:
        """The value a Record() result stored, decoded."""
        encoded = self.meta.get("recorded")
        return None if encoded is None else codec.decode_text(encoded)

    def check_insertable(self) -> None:
        if self.state not in INSERTABLE_STATES:
            raise ValueError(f"state: a job can be inserted as available, scheduled or "
                             f"suspended, not {self.state}")

    def as_inserted(self, record: Any) -> Job:
        """This job as inserted: the id and times the database gave it, the rest as given
        (args, meta and extra copied, not decoded again from the database)."""
        job = Job.__new__(Job)
        job.__dict__ = {**self.__dict__, "id": record[0], "inserted_at": record[1],
                        "scheduled_at": record[2], "schedule_in": None,
                        "state": _STATES[str(self.state)], "tags": list(self.tags),
                        "args": dict(self.args), "meta": dict(self.meta), "errors": [],
                        "extra": dict(self.extra), "_cancel_requested": None}
        return job

    @classmethod
    def from_record(cls, record: Any, extra: dict[str, Any] | None = None) -> Job:
        """Build a Job from a database row. The row was validated on insert and by the
        table's constraints, so this skips __post_init__: it runs for every fetched job."""
        job = cls.__new__(cls)
        job.__dict__.update(
            id=record["id"],
            state=_STATES[record["state"]],
            queue=record["queue"],
            worker=record["worker"],
            args=_json(record["args"]),
            meta=_json(record["meta"]),
            tags=list(record["tags"]),
            errors=_json(record["errors"]),
            attempt=record["attempt"],
            max_attempts=record["max_attempts"],
            priority=record["priority"],
            attempted_by=list(record["attempted_by"]) if record["attempted_by"] else None,
            inserted_at=record["inserted_at"],
            scheduled_at=record["scheduled_at"],
            attempted_at=record["attempted_at"],
            completed_at=record["completed_at"],
            cancelled_at=record["cancelled_at"],
            discarded_at=record["discarded_at"],
            schedule_in=None,
            workflow_id=record["workflow_id"],
            step=record["step"],
            deps=list(record["deps"]) if record["deps"] is not None else None,
            extra=dict(extra or {}),
            _cancel_requested=None,
        )
        return job


def _json(text: str) -> Any:
    # Most jobs carry empty meta and errors; skip the parser for them.
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)
