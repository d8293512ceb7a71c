"""Run one fetched job and turn what process() did into an Ack."""

from __future__ import annotations

import asyncio
import time
import traceback
from datetime import UTC, datetime
from typing import Any

import structlog

from . import codec
from ._ack import Ack, SnoozeAck
from ._execution import Execution, JobRuntime, current_execution
from ._job import Job
from ._metrics import DURATION, JOBS
from ._results import Cancel, Record, Snooze
from ._signals import AwaitingSignal
from ._worker import default_backoff, resolve_worker

log = structlog.get_logger("waitpoint.job")

_worker_instances: dict[type, Any] = {}


def _error_entry(job: Job, error: str, trace: str | None = None) -> dict[str, Any]:
    entry = {"at": datetime.now(UTC).isoformat(), "attempt": job.attempt, "error": error}
    if trace:
        entry["traceback"] = trace
    return entry


def _worker_for(cls: type) -> Any:
    instance = _worker_instances.get(cls)
    if instance is None:
        instance = _worker_instances[cls] = cls()
    return instance


async def run_job(runtime: JobRuntime, job: Job) -> Ack | SnoozeAck:
    """Run `job`; return its outcome for the producer to commit."""
    assert job.id is not None
    started = time.perf_counter()
    context = dict(id=job.id, worker=job.worker, queue=job.queue, attempt=job.attempt)
    try:
        cls = resolve_worker(job.worker)
    except LookupError as error:
        log.error("job.discarded", **context, error=str(error))
        return Ack(job.id, "discarded", error=_error_entry(job, f"LookupError: {error}"))

    token = current_execution.set(Execution(job=job, runtime=runtime))
    try:
        result = await _worker_for(cls).process(job)
        ack = _ack_for_result(job, result)
    except AwaitingSignal as waiting:
        _measure(job, "awaiting", time.perf_counter() - started)
        log.info("job.awaiting_signal", **context, call=waiting.call, key=waiting.key,
                 names=waiting.names, scope=waiting.scope, wait_for=waiting.wait_for)
        return SnoozeAck(job.id, waiting.call, waiting.key, waiting.wait_for, waiting.names,
                         "workflow" if waiting.scope == "workflow" else "job")
    except asyncio.CancelledError:
        log.warning("job.interrupted", **context,
                    hint="left executing; the lifeline makes it available again")
        raise
    except Exception as error:
        ack = _ack_for_error(job, cls, error)
    finally:
        current_execution.reset(token)

    elapsed = time.perf_counter() - started
    duration_ms = round(elapsed * 1000, 3)
    outcome = "snoozed" if ack.attempt_change else ack.state
    _measure(job, outcome, elapsed)
    event = f"job.{outcome}"
    if ack.error is not None and ack.state != "cancelled":
        log.warning(event, **context, duration_ms=duration_ms, error=ack.error["error"])
    else:
        log.info(event, **context, duration_ms=duration_ms)
    return ack


_measures: dict[tuple[str, str, str], tuple[Any, Any]] = {}
"""The metric children of each (queue, worker, outcome): labels() is a locked lookup."""


def _measure(job: Job, outcome: str, seconds: float) -> None:
    key = (job.queue, job.worker, outcome)
    children = _measures.get(key)
    if children is None:
        children = _measures[key] = (JOBS.labels(*key), DURATION.labels(job.queue, job.worker))
    children[0].inc()
    children[1].observe(seconds)


def _ack_for_result(job: Job, result: Any) -> Ack:
    assert job.id is not None
    if isinstance(result, Cancel):
        return Ack(job.id, "cancelled", error=_error_entry(job, f"cancelled: {result.reason}"))
    if isinstance(result, Snooze):
        return Ack(job.id, "scheduled", delay=result.delay, attempt_change=-1)
    if isinstance(result, Record):
        # Raises TypeError/ValueError past the size limit: the attempt fails like any error.
        return Ack(job.id, "completed", meta={"recorded": codec.encode_text(result.value)})
    return Ack(job.id, "completed")


def _ack_for_error(job: Job, cls: type, error: BaseException) -> Ack:
    assert job.id is not None
    entry = _error_entry(job, f"{type(error).__name__}: {error}",
                         "".join(traceback.format_exception(error)))
    if job.attempt >= job.max_attempts:
        return Ack(job.id, "discarded", error=entry)
    backoff = getattr(cls, "backoff", None)
    delay = float(backoff(_worker_for(cls), job)) if backoff else default_backoff(job.attempt)
    return Ack(job.id, "retryable", delay=max(delay, 0.0), error=entry)
