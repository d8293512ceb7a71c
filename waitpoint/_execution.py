"""The job running in this task, and what a running job may use of its node.

`await_signal()` and `callback_url()` are called deep inside a worker's process(), with
no arguments that lead back to the node; a context variable carries the job and its
`JobRuntime` there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ._job import Job
from ._notifier import Notifier
from ._query import Query


@dataclass(frozen=True)
class JobRuntime:
    """The parts of a node its running jobs use: statements, a pool, the node's LISTEN
    connection (live waits), and whether the node is shutting down."""

    pool: asyncpg.Pool
    query: Query
    notifier: Notifier
    is_stopping: Callable[[], bool]


@dataclass
class ScriptedSignals:
    """Signals for a job run by waitpoint.testing.process_job(), without a database: job
    signals in order (a (name, payload) pair for a named one), workflow signals by name."""

    job_signals: list[tuple[str | None, Any]] = field(default_factory=list)
    workflow_signals: dict[str, Any] = field(default_factory=dict)

    def take(self, names: tuple[str, ...] | None, scope: str) -> tuple[str | None, Any] | None:
        if scope == "workflow":
            for wanted in names or ():
                if wanted in self.workflow_signals:
                    return wanted, self.workflow_signals[wanted]
            return None
        for index, (name, payload) in enumerate(self.job_signals):
            if (name is None and names is None) or (names is not None and name in names):
                del self.job_signals[index]
                return name, payload
        return None

    def peek(self, name: str | None, scope: str) -> Any:
        if scope == "workflow":
            return self.workflow_signals.get(name or "")
        for entry_name, payload in self.job_signals:
            if entry_name == name:
                return payload
        return None


@dataclass
class Execution:
    job: Job
    runtime: JobRuntime
    calls: int = 0
    """await_signal calls made so far in this run of process(): the number of the next."""
    scripted: ScriptedSignals | None = None
    """Set by waitpoint.testing.process_job(): signals come from here, not the database."""


current_execution: ContextVar[Execution | None] = ContextVar("waitpoint_execution", default=None)


def current_job() -> Job | None:
    """The job whose process() is running in this task, or None outside a job.

    >>> job = current_job()
    >>> job.id if job else None
    """
    execution = current_execution.get()
    return None if execution is None else execution.job
