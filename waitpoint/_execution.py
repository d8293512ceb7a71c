"""The job running in this task, and what a running job may use of its node.

`await_signal()` and `callback_url()` are called deep inside a worker's process(), with
no arguments that lead back to the node; a context variable carries the job and its
`JobRuntime` there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

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
class Execution:
    job: Job
    runtime: JobRuntime
    calls: int = 0
    """await_signal calls made so far in this run of process(): the number of the next."""


current_execution: ContextVar[Execution | None] = ContextVar("waitpoint_execution", default=None)


def current_job() -> Job | None:
    """The job whose process() is running in this task, or None outside a job.

    >>> job = current_job()
    >>> job.id if job else None
    """
    execution = current_execution.get()
    return None if execution is None else execution.job
