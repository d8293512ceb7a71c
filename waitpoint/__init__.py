"""waitpoint: durable PostgreSQL jobs that pause for signed webhooks and other signals.

>>> from waitpoint import Waitpoint, await_signal, signal, worker
"""

from ._database import resolve_database_url, start_embedded
from ._errors import MigrationError, NoInstanceError, SignalTimeout, WaitpointError
from ._execution import current_job
from ._instance import Waitpoint
from ._job import Job, JobState
from ._logging import configure_logging
from ._results import Cancel, Record, Snooze
from ._settings import Settings
from ._signals import await_first, await_signal, await_signals, peek_signal, signal
from ._worker import job, worker
from ._workflow import Workflow, WorkflowStatus

__all__ = [
    "Cancel",
    "Job",
    "JobState",
    "MigrationError",
    "NoInstanceError",
    "Record",
    "Settings",
    "SignalTimeout",
    "Snooze",
    "Waitpoint",
    "WaitpointError",
    "Workflow",
    "WorkflowStatus",
    "await_first",
    "await_signal",
    "await_signals",
    "configure_logging",
    "current_job",
    "job",
    "peek_signal",
    "resolve_database_url",
    "signal",
    "start_embedded",
    "worker",
]
