"""Helpers for testing code that uses waitpoint, in the spirit of oban-py's testing module.

- `process_job(job, signals=[...])`: run one job's process() here, without a database;
  args are round-tripped through JSON as storage would, and await_signal() takes its
  payloads from `signals` (a `(name, payload)` pair answers a named wait).
- `assert_enqueued(...)`, `refute_enqueued(...)`, `all_enqueued(...)`: look at the jobs
  waiting to run (available or scheduled) through the running instance.
- `await drain_queue("default")`: run everything queued, in the calling task, and count
  the outcomes.
- `with mode("inline"):` Worker.enqueue() runs the job at once (process_job) instead of
  inserting it.
- `await wait_for_state(wp, job_id, "completed")`: poll a real job until it reaches a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from . import codec
from ._ack import Ack, SnoozeAck
from ._current import current_instance
from ._execution import Execution, JobRuntime, ScriptedSignals, current_execution
from ._instance import Waitpoint
from ._job import Job, JobState
from ._mode import inline_runner
from ._results import Cancel, Record, Snooze
from ._runner import run_job
from ._worker import resolve_worker

__all__ = ["all_enqueued", "assert_enqueued", "drain_queue", "mode", "process_job",
           "refute_enqueued", "wait_for_state"]


class _NoDatabase:
    """The runtime of a job run by process_job(): there is none."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("process_job() runs without a database; this needs one (use "
                           "drain_queue() against a running instance)")


async def process_job(job: Job, *, signals: Sequence[Any] = (),
                      workflow_signals: Mapping[str, Any] | None = None) -> Any:
    """Run `job`'s process() in this task and return what it returned (a value, Record,
    Cancel or Snooze); its exceptions propagate. Nothing touches a database.

    >>> result = await process_job(Approval.new({"user": 7}), signals=[{"ok": True}])
    >>> await process_job(Order.new({}), signals=[("payment", 42), ("shipping", "dhl")])

    A wait with no signal left raises SignalTimeout, as a deadline would.
    """
    stored = Job(worker=job.worker, args=json.loads(json.dumps(job.args)),
                 queue=job.queue, priority=job.priority, max_attempts=job.max_attempts,
                 meta=json.loads(json.dumps(job.meta)), tags=list(job.tags),
                 workflow_id=job.workflow_id, step=job.step)
    stored.id = job.id if job.id is not None else 0
    stored.attempt = max(job.attempt, 1)
    stored.state = JobState.EXECUTING
    stored.attempted_at = datetime.now(UTC)
    scripted = ScriptedSignals(
        [entry if isinstance(entry, tuple) else (None, entry) for entry in signals],
        dict(workflow_signals or {}))
    for _, payload in scripted.job_signals:
        codec.encode(payload)  # what signal() would refuse, refused here too
    worker_class = resolve_worker(stored.worker)
    token = current_execution.set(Execution(job=stored, runtime=_no_runtime(),
                                            scripted=scripted))
    try:
        return await worker_class().process(stored)
    finally:
        current_execution.reset(token)


def _no_runtime() -> JobRuntime:
    runtime: Any = _NoDatabase()
    return runtime  # type: ignore[no-any-return]


# --- what is enqueued ---------------------------------------------------------------

def _worker_name(worker: Any) -> str | None:
    if worker is None or isinstance(worker, str):
        return worker
    name = getattr(worker, "__waitpoint_worker__", None)
    if name is None:
        raise TypeError(f"{worker!r} is not a waitpoint worker (nor a worker name)")
    return str(name)


def _matches(job: Job, worker: str | None, args: Mapping[str, Any] | None,
             queue: str | None) -> bool:
    if worker is not None and job.worker != worker:
        return False
    if queue is not None and job.queue != queue:
        return False
    return args is None or all(key in job.args and job.args[key] == value
                               for key, value in args.items())


async def all_enqueued(*, worker: Any = None, args: Mapping[str, Any] | None = None,
                       queue: str | None = None) -> list[Job]:
    """Jobs waiting to run (available or scheduled) that match: `worker` (a class, a
    function worker or its name), `args` (these keys with these values; others may be
    there too) and `queue`. Oldest first."""
    wp = current_instance("look at enqueued jobs")
    name = _worker_name(worker)
    found: list[Job] = []
    for state in (JobState.AVAILABLE, JobState.SCHEDULED):
        jobs = await wp.list_jobs(state=state, queue=queue, limit=10_000)  # type: ignore[attr-defined]
        found += [job for job in jobs if _matches(job, name, args, queue)]
    return sorted(found, key=lambda job: job.id or 0)


async def assert_enqueued(*, worker: Any = None, args: Mapping[str, Any] | None = None,
                          queue: str | None = None) -> Job:
    """Fail unless a matching job waits to run; return it (the oldest, if several)."""
    found = await all_enqueued(worker=worker, args=args, queue=queue)
    if not found:
        raise AssertionError(f"no enqueued job matches worker={_worker_name(worker)!r} "
                             f"args={args!r} queue={queue!r}")
    return found[0]


async def refute_enqueued(*, worker: Any = None, args: Mapping[str, Any] | None = None,
                          queue: str | None = None) -> None:
    """Fail if a matching job waits to run."""
    found = await all_enqueued(worker=worker, args=args, queue=queue)
    if found:
        raise AssertionError(f"{len(found)} enqueued job(s) match, expected none: "
                             f"{[(job.id, job.worker, job.args) for job in found]}")


# --- draining --------------------------------------------------------------------------

class _NoNotifier:
    """Draining never waits in place: every wait snoozes at once."""

    @contextlib.contextmanager
    def waiter(self, job_id: int) -> Iterator[Any]:
        yield asyncio.Event()


async def drain_queue(queue: str = "default", *, with_scheduled: bool = True,
                      with_recursion: bool = True, limit: int = 100) -> dict[str, int]:
    """Run the jobs of `queue` in the calling task, as a producer would, and return how
    many ended how: completed, cancelled, discarded, retryable (failed), snoozed,
    awaiting (entered a wait for a signal not there yet).

    `with_scheduled` makes scheduled and retryable jobs due first; `with_recursion` keeps
    going while running jobs enqueue more. Waits do not wait in place here: a signal
    already sent is consumed, otherwise the job snoozes (counted as awaiting).
    """
    wp: Any = current_instance("drain a queue")
    query, pool = wp.query, wp.pool
    runtime = JobRuntime(pool=pool, query=query, notifier=_NoNotifier(),  # type: ignore[arg-type]
                         is_stopping=lambda: True)
    producer = uuid.uuid4()
    counts: Counter[str] = Counter()
    while True:
        if with_scheduled:
            await query.make_queue_due(pool, queue=queue)
        jobs = await query.ack_and_fetch_jobs(pool, queue=queue, demand=limit,
                                              node="waitpoint.testing", producer=producer,
                                              acks=[])
        if not jobs:
            break
        acks: list[Ack] = []
        snoozes: list[SnoozeAck] = []
        for job in jobs:
            outcome = await run_job(runtime, job)
            if isinstance(outcome, SnoozeAck):
                snoozes.append(outcome)
                counts["awaiting"] += 1
            else:
                acks.append(outcome)
                counts["snoozed" if outcome.attempt_change else outcome.state] += 1
        async with pool.acquire() as conn, conn.transaction():
            if snoozes:
                await query.snooze_jobs(conn, snoozes=snoozes)
            await query.ack_and_fetch_jobs(conn, queue=queue, demand=0,
                                           node="waitpoint.testing", producer=producer,
                                           acks=acks)
        if not with_recursion:
            break
    return dict(counts)


# --- test mode -------------------------------------------------------------------------

@contextlib.contextmanager
def mode(name: Literal["inline"]) -> Iterator[None]:
    """`with mode("inline"):` Worker.enqueue() (and a function worker's enqueue) runs the
    job at once with process_job() and returns it completed (or cancelled, discarded,
    snoozed), recording a Record's value; nothing is inserted."""
    if name != "inline":
        raise ValueError(f"mode: only 'inline', got {name!r}")
    token = inline_runner.set(_run_inline)
    try:
        yield
    finally:
        inline_runner.reset(token)


async def _run_inline(job: Job) -> Job:
    try:
        result = await process_job(job)
    except Exception as error:
        job.state = JobState.DISCARDED
        job.errors.append({"at": datetime.now(UTC).isoformat(), "attempt": 1,
                           "error": f"{type(error).__name__}: {error}"})
        return job
    job.attempt = 1
    if isinstance(result, Cancel):
        job.state = JobState.CANCELLED
    elif isinstance(result, Snooze):
        job.state = JobState.SCHEDULED
    else:
        job.state = JobState.COMPLETED
        if isinstance(result, Record):
            job.meta["recorded"] = codec.encode_text(result.value)
    return job


async def wait_for_state(wp: Waitpoint, job_id: int, *states: str,
                         timeout: float = 10.0) -> Job:
    """Poll the job until it is in one of `states` (a real deadline, no sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await wp.get_job(job_id)
        if job is not None and str(job.state) in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.state if job else 'gone'}, "
                                 f"not {'/'.join(states)}, after {timeout}s")
        await asyncio.sleep(0.02)
