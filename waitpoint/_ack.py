"""The outcome of one execution, as the producer writes it with its next fetch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

AckState = Literal["completed", "cancelled", "discarded", "retryable", "scheduled"]


@dataclass(frozen=True, slots=True)
class Ack:
    job_id: int
    state: AckState
    delay: float | None = None
    error: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    attempt_change: int = 0


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
