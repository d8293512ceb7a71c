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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn

from . import codec
from ._aio import wait_event
from ._current import current_instance
from ._errors import SignalTimeout
from ._execution import Execution, current_execution
from ._job import Job
from ._metrics import SIGNALS_CONSUMED
from ._names import check_name, check_names
from ._query import Consumed


class AwaitingSignal(BaseException):
    """Unwinds process(): the job enters a wait for a signal (its snooze is committed by
    the producer's next cycle, with the other outcomes).

    A BaseException so that a worker's `except Exception` cannot swallow it.
    """

    def __init__(self, call: int, key: str | None, wait_for: float | None,
                 names: tuple[str, ...] | None = None, scope: str = "job") -> None:
        super().__init__(call)
        self.call, self.key, self.wait_for = call, key, wait_for
        self.names, self.scope = names, scope


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


Scope = Literal["job", "workflow"]


async def await_signal(
    wait_for: float | timedelta | None = None,
    wait_timeout: float = 5.0,
    *,
    key: str | None = None,
    name: str | None = None,
    scope: Scope = "job",
) -> Any:
    """Pause the running job until a signal arrives; return its payload.

    >>> payload = await await_signal(wait_for=timedelta(days=1))
    >>> paid = await await_signal(key=f"order:{job.args['order_id']}", wait_for=3600)
    >>> payment = await await_signal(name="payment")
    >>> approved = await await_signal(name="approved", scope="workflow")

    Job signals are a queue: each is consumed once, oldest first. Without `name` only
    unnamed signals are taken; with it only that name's (others stay pending for later
    waits). `scope="workflow"` waits for the named signal of the job's workflow instead:
    state, not a queue, so every step gets its latest value and nothing is consumed.

    `wait_for` is the overall deadline (None waits forever), measured from the first
    snooze and kept across re-runs; `wait_timeout` is the live wait before snoozing.
    Raises SignalTimeout when the deadline passes with no signal. A re-run of the job
    gets the same answer at the same call without consuming anything more.
    """
    names = None if name is None else (check_name(name),)
    _, payload = await _await_call(names, wait_for, wait_timeout, key, scope)
    return payload


async def await_first(
    names: Sequence[str],
    wait_for: float | timedelta | None = None,
    wait_timeout: float = 5.0,
    *,
    scope: Scope = "job",
) -> tuple[str, Any]:
    """Wait for whichever of `names` comes first; return (name, payload). The others stay
    pending (job signals) for a later wait.

    >>> decision, detail = await await_first(["approved", "rejected"], wait_for=86400)
    """
    found, payload = await _await_call(check_names(names), wait_for, wait_timeout, None, scope)
    assert found is not None
    return found, payload


async def await_signals(
    names: Sequence[str],
    wait_for: float | timedelta | None = None,
    wait_timeout: float = 5.0,
    *,
    scope: Scope = "job",
) -> dict[str, Any]:
    """Wait until every one of `names` has arrived, in any order; return their payloads
    by name. Each arrival is one await_first() of the names still missing, so each is
    consumed once and memoized: a re-run gets the same dict. `wait_for` bounds each wait
    for the next arrival.

    >>> got = await await_signals(["payment", "shipping"], wait_for=timedelta(days=7))
    >>> got["payment"]["amount"]
    """
    missing = list(check_names(names))
    received: dict[str, Any] = {}
    while missing:
        found, payload = await await_first(missing, wait_for, wait_timeout, scope=scope)
        received[found] = payload
        missing.remove(found)
    return {name: received[name] for name in names}


async def peek_signal(name: str | None = None, *, scope: Scope = "job") -> Any:
    """The payload a wait would get now, without waiting or consuming; None when there is
    none. Job scope: the oldest pending signal under `name` (None: unnamed). Workflow
    scope: the latest value of the job's workflow signal `name`. Not memoized: a re-run
    may see a newer value."""
    execution = current_execution.get()
    if execution is None:
        raise RuntimeError("peek_signal() can only be called inside a job's process()")
    if execution.scripted is not None:  # waitpoint.testing.process_job(): no database
        return execution.scripted.peek(name, scope)
    runtime, job = execution.runtime, execution.job
    assert job.id is not None
    if scope == "workflow":
        if name is None or job.workflow_id is None:
            raise ValueError("peek_signal(scope='workflow') needs a name and a workflow step")
        found = await runtime.query.peek_workflow_signal(
            runtime.pool, workflow_id=job.workflow_id, name=check_name(name))
        return None if found is None else codec.decode(found[0])
    payload = await runtime.query.peek_job_signal(
        runtime.pool, job_id=job.id, name=None if name is None else check_name(name))
    return None if payload is None else codec.decode(payload)


async def _await_call(names: tuple[str, ...] | None, wait_for: float | timedelta | None,
                      wait_timeout: float, key: str | None,
                      scope: Scope) -> tuple[str | None, Any]:
    """One numbered await: memoized answer, or consume / read, live wait, snooze."""
    execution = current_execution.get()
    if execution is None:
        raise RuntimeError("await_signal() can only be called inside a job's process()")
    if wait_timeout < 0:
        raise ValueError(f"wait_timeout: must not be negative, got {wait_timeout!r}")
    wait_seconds = _seconds(wait_for)
    if key is not None:
        check_key(key)
        if names is not None or scope != "job":
            raise ValueError("key: a keyed wait takes neither a name nor a scope")
    if scope not in ("job", "workflow"):
        raise ValueError(f"scope: 'job' or 'workflow', got {scope!r}")
    if scope == "workflow" and (names is None or (execution.job.workflow_id is None
                                                   and execution.scripted is None)):
        raise ValueError("scope='workflow' needs a name, in a step of a workflow")
    execution.calls += 1
    call = execution.calls
    job = execution.job

    recorded = job.meta.get("signals", {}).get(str(call))
    if recorded is not None:
        if recorded.get("timeout"):
            raise SignalTimeout(f"job {job.id}: no signal for await_signal call {call}")
        return recorded.get("name"), codec.decode_text(recorded["payload"])
    if execution.scripted is not None:  # waitpoint.testing.process_job(): no database
        taken = execution.scripted.take(names, scope)
        if taken is None:
            raise SignalTimeout(f"await_signal call {call}: no signal left in process_job()'s "
                                "signals")
        return taken[0], codec.decode(codec.encode(taken[1]))

    pending = job.meta.get("await") or {}
    resumed = pending.get("call") == call  # this call snoozed before: a signal woke it?
    deadline = None
    if resumed and pending.get("deadline"):
        deadline = datetime.fromisoformat(pending["deadline"])
    wait = _Wait(call, key, names, scope, wait_seconds, wait_timeout, deadline, resumed)
    return await _wait(execution, wait)


@dataclass(frozen=True, slots=True)
class _Wait:
    call: int
    key: str | None
    names: tuple[str, ...] | None
    scope: Scope
    wait_seconds: float | None
    wait_timeout: float
    deadline: datetime | None
    resumed: bool


async def _look(execution: Execution, wait: _Wait) -> Consumed:
    runtime, job = execution.runtime, execution.job
    assert job.id is not None
    if wait.scope == "workflow":
        assert wait.names is not None
        return await runtime.query.read_workflow_signal(runtime.pool, job_id=job.id,
                                                        call=wait.call, names=wait.names)
    return await runtime.query.consume_signal(runtime.pool, job_id=job.id, call=wait.call,
                                              key=wait.key, names=wait.names)


async def _wait(execution: Execution, wait: _Wait) -> tuple[str | None, Any]:
    runtime, job = execution.runtime, execution.job
    assert job.id is not None
    started = time.monotonic()
    live_until: float | None = None
    deadline = wait.deadline
    # A first arrival with no live wait and no deadline to check goes straight to the
    # snooze (no round trip): a signal already there makes the snooze an immediate re-run,
    # and a re-run of a call that snoozed before looks for its signal first.
    skip_live_wait = (wait.wait_timeout == 0 and deadline is None and wait.wait_seconds != 0
                      and not wait.resumed)
    with runtime.notifier.waiter(job.id) as woken:
        while not skip_live_wait:
            woken.clear()
            consumed = await _look(execution, wait)
            if consumed.payload is not None:
                return consumed.name, _consumed(job, wait, consumed)
            if deadline is not None and consumed.db_now >= deadline:
                await _time_out(execution, wait.call)
            if live_until is None:
                live = wait.wait_timeout
                if deadline is not None:
                    live = min(live, (deadline - consumed.db_now).total_seconds())
                elif wait.wait_seconds is not None:
                    live = min(live, wait.wait_seconds)
                live_until = started + live
            remaining = live_until - time.monotonic()
            if remaining <= 0 or runtime.is_stopping() or job.cancelled():
                break
            await wait_event(woken, remaining)

    live_wait_covered_deadline = (
        deadline is None and wait.wait_seconds is not None
        and wait.wait_seconds <= wait.wait_timeout
        and not runtime.is_stopping() and not job.cancelled()
    )
    if live_wait_covered_deadline:
        await _time_out(execution, wait.call)

    raise AwaitingSignal(wait.call, wait.key, wait.wait_seconds, wait.names, wait.scope)


def _consumed(job: Job, wait: _Wait, consumed: Consumed) -> Any:
    assert consumed.payload is not None
    memo: dict[str, Any] = {"payload": base64.b64encode(consumed.payload).decode("ascii")}
    if consumed.name is not None:
        memo["name"] = consumed.name
    job.meta.setdefault("signals", {})[str(wait.call)] = memo
    job.meta.pop("await", None)
    SIGNALS_CONSUMED.inc()
    return codec.decode(consumed.payload)


async def _time_out(execution: Execution, call: int) -> NoReturn:
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
    name: str | None = None,
) -> list[int]:
    """Deliver `payload` to jobs by id, or by correlation key, through this process's instance.

    >>> await signal(job.id, {"decision": "approved"})
    >>> await signal([job_a.id, job_b.id], {"decision": "approved"})
    >>> await signal(key="order:123", payload={"paid": True})
    >>> await signal(job.id, {"amount": 4200}, name="payment")

    Returns the ids of the jobs it reached; missing and finished jobs are skipped.
    """
    return await current_instance("signal a job").signal(job_ids, payload, key=key,
                                                         keep_for=keep_for, name=name)
