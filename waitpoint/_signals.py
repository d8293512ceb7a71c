"""await_signal() and signal(): jobs that pause for an external decision.

How a wait unfolds (call k of a job's process()):
1. A payload already recorded for call k (an earlier run consumed it) is returned as is.
2. Otherwise the job consumes a persisted signal, or waits live up to `wait_timeout`,
   woken through the node's LISTEN connection.
3. Then it snoozes: the coroutine unwinds and the worker slot frees at once; the producer
   commits the snooze with its next cycle (the row leaves `executing`: suspended, or
   scheduled at the deadline; available if a signal came meanwhile). A signal makes a
   snoozed job available again in the same transaction; process() then runs from the top
   and replays calls 1..k-1.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from . import codec
from ._aio import wait_event
from ._current import current_instance
from ._errors import SignalTimeout
from ._execution import Execution, current_execution
from ._job import Job


class AwaitingSignal(BaseException):
    """Unwinds process(): the job enters a wait for a signal (its snooze is committed by
    the producer's next cycle, with the other outcomes).

    A BaseException so that a worker's `except Exception` cannot swallow it.
    """

    def __init__(self, call: int, key: str | None, wait_for: float | None) -> None:
        super().__init__(call)
        self.call, self.key, self.wait_for = call, key, wait_for


def check_key(key: object) -> str:
    """Keys are stored as text: non-empty, printable (no NUL), at most 1000 characters."""
    if not isinstance(key, str) or not key or not key.isprintable() or len(key) > 1000:
        raise ValueError(f"key: must be a non-empty printable string of at most 1000 "
                         f"characters, got {str(key)[:40]!r}")
    return key


def _seconds(wait_for: float | timedelta | None) -> float | None:
    if wait_for is None:
        return None
    seconds = wait_for.total_seconds() if isinstance(wait_for, timedelta) else float(wait_for)
    if seconds < 0:
        raise ValueError(f"wait_for: must not be negative, got {wait_for!r}")
    return seconds


async def await_signal(
    wait_for: float | timedelta | None = None,
    wait_timeout: float = 5.0,
    *,
    key: str | None = None,
) -> Any:
    """Pause the running job until a signal arrives; return its payload.

    >>> payload = await await_signal(wait_for=timedelta(days=1))
    >>> paid = await await_signal(key=f"order:{job.args['order_id']}", wait_for=3600)

    `wait_for` is the overall deadline (None waits forever), measured from the first
    snooze and kept across re-runs; `wait_timeout` is the live wait before snoozing.
    Raises SignalTimeout when the deadline passes with no signal.
    """
    execution = current_execution.get()
    if execution is None:
        raise RuntimeError("await_signal() can only be called inside a job's process()")
    if wait_timeout < 0:
        raise ValueError(f"wait_timeout: must not be negative, got {wait_timeout!r}")
    wait_seconds = _seconds(wait_for)
    if key is not None:
        check_key(key)
    execution.calls += 1
    call = execution.calls
    job = execution.job

    recorded = job.meta.get("signals", {}).get(str(call))
    if recorded is not None:
        if recorded.get("timeout"):
            raise SignalTimeout(f"job {job.id}: no signal for await_signal call {call}")
        return codec.decode_text(recorded["payload"])

    pending = job.meta.get("await") or {}
    resumed = pending.get("call") == call  # this call snoozed before: a signal woke it?
    deadline = None
    if resumed and pending.get("deadline"):
        deadline = datetime.fromisoformat(pending["deadline"])
    return await _wait(execution, call, key, wait_seconds, wait_timeout, deadline, resumed)


async def _wait(execution: Execution, call: int, key: str | None, wait_seconds: float | None,
                wait_timeout: float, deadline: datetime | None, resumed: bool) -> Any:
    runtime, job = execution.runtime, execution.job
    assert job.id is not None
    started = time.monotonic()
    live_until: float | None = None
    # A first arrival with no live wait and no deadline to check goes straight to the
    # snooze (no round trip): a signal already there makes the snooze an immediate re-run,
    # and a re-run of a call that snoozed before looks for its signal first.
    skip_live_wait = (wait_timeout == 0 and deadline is None and wait_seconds != 0
                      and not resumed)
    with runtime.notifier.waiter(job.id) as woken:
        while not skip_live_wait:
            woken.clear()
            consumed = await runtime.query.consume_signal(runtime.pool, job_id=job.id,
                                                          call=call, key=key)
            if consumed.payload is not None:
                return _consumed(job, call, consumed.payload)
            if deadline is not None and consumed.db_now >= deadline:
                return await _time_out(execution, call)
            if live_until is None:
                live = wait_timeout
                if deadline is not None:
                    live = min(live, (deadline - consumed.db_now).total_seconds())
                elif wait_seconds is not None:
                    live = min(live, wait_seconds)
                live_until = started + live
            remaining = live_until - time.monotonic()
            if remaining <= 0 or runtime.is_stopping() or job.cancelled():
                break
            await wait_event(woken, remaining)

    live_wait_covered_deadline = (
        deadline is None and wait_seconds is not None and wait_seconds <= wait_timeout
        and not runtime.is_stopping() and not job.cancelled()
    )
    if live_wait_covered_deadline:
        return await _time_out(execution, call)

    raise AwaitingSignal(call, key, wait_seconds)


def _consumed(job: Job, call: int, payload: bytes) -> Any:
    job.meta.setdefault("signals", {})[str(call)] = {
        "payload": base64.b64encode(payload).decode("ascii")
    }
    job.meta.pop("await", None)
    return codec.decode(payload)


async def _time_out(execution: Execution, call: int) -> Any:
    job, runtime = execution.job, execution.runtime
    assert job.id is not None
    await runtime.query.record_signal_timeout(runtime.pool, job_id=job.id, call=call)
    job.meta.setdefault("signals", {})[str(call)] = {"timeout": True}
    job.meta.pop("await", None)
    raise SignalTimeout(f"job {job.id}: no signal for await_signal call {call} before its deadline")


async def signal(
    job_ids: int | Sequence[int] | None = None,
    payload: Any = None,
    *,
    key: str | None = None,
    keep_for: float | timedelta | None = None,
) -> list[int]:
    """Deliver `payload` to jobs by id, or by correlation key, through this process's instance.

    >>> await signal(job.id, {"decision": "approved"})
    >>> await signal([job_a.id, job_b.id], {"decision": "approved"})
    >>> await signal(key="order:123", payload={"paid": True})

    Returns the ids of the jobs it reached; missing and finished jobs are skipped.
    """
    return await current_instance("signal a job").signal(job_ids, payload, key=key,
                                                         keep_for=keep_for)
