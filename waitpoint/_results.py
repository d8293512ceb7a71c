"""What process() may return to decide a job's outcome besides a plain value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Cancel:
    """Stop the job for good: it becomes cancelled with the reason in its errors."""

    reason: str = "cancelled"


@dataclass(frozen=True, slots=True)
class Snooze:
    """Run the job again after a delay, without using up an attempt.

    >>> Snooze(30)          # seconds
    >>> Snooze(timedelta(minutes=5))
    """

    seconds: float | timedelta

    @property
    def delay(self) -> float:
        if isinstance(self.seconds, timedelta):
            return self.seconds.total_seconds()
        return float(self.seconds)


@dataclass(frozen=True, slots=True)
class Record:
    """Complete the job and keep `value` (erlpack-encoded) in meta["recorded"]."""

    value: Any
