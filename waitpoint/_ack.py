"""The outcome of one execution, as the producer writes it with its next fetch: an Ack
(finished, failed, snoozed for a time) or a SnoozeAck (entered a wait for a signal)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .sql import text_array_literal

AckState = Literal["completed", "cancelled", "discarded", "retryable", "scheduled"]


@dataclass(frozen=True, slots=True)
class Ack:
    job_id: int
    state: AckState
    delay: float | None = None
    error: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    attempt_change: int = 0


@dataclass(frozen=True, slots=True)
class SnoozeAck:
    """A job that entered a wait: await_signal() call `call` found no signal. Committed
    with the producer's next cycle (Query.snooze_jobs); until then the job stays executing."""

    job_id: int
    call: int
    key: str | None
    wait_for: float | None
    names: tuple[str, ...] | None = None
    """The signal names waited for; None: an unnamed wait."""
    scope: Literal["job", "workflow"] = "job"


def snooze_arrays(snoozes: Sequence[SnoozeAck]) -> tuple[list[Any], ...]:
    """Column arrays for snooze_named_jobs() (the names as text[] literals: their number
    differs from job to job)."""
    return ([s.job_id for s in snoozes], [s.call for s in snoozes],
            [s.key for s in snoozes], [s.wait_for for s in snoozes],
            [text_array_literal(s.names) for s in snoozes],
            [None if s.scope == "job" else s.scope for s in snoozes])


def ack_arrays(acks: Sequence[Ack]) -> tuple[list[Any], ...]:
    """Column arrays for the unnest() in ack_and_fetch_jobs.sql."""
    return (
        [a.job_id for a in acks],
        [a.state for a in acks],
        [a.delay for a in acks],
        [None if a.error is None else json.dumps(a.error) for a in acks],
        [None if a.meta is None else json.dumps(a.meta) for a in acks],
        [a.attempt_change for a in acks],
    )
