"""Workers the engine and signal tests run. Each records what it saw in `seen`, keyed by
job id, so a test can assert on behaviour without sleeping."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import timedelta
from typing import Any

from waitpoint import (
    Cancel,
    Record,
    SignalTimeout,
    Snooze,
    await_first,
    await_signal,
    await_signals,
    peek_signal,
    worker,
)

seen: dict[int, list[Any]] = defaultdict(list)
release = asyncio.Event  # type alias for readability in tests
gates: dict[int, asyncio.Event] = {}


@worker(queue="default")
class Complete:
    async def process(self, job):
        seen[job.id].append("ran")
        return job.args.get("value")


@worker(queue="default")
class Outcome:
    """Returns what args["outcome"] names."""

    async def process(self, job):
        seen[job.id].append(job.attempt)
        outcome = job.args["outcome"]
        if outcome == "cancel":
            return Cancel("not needed")
        if outcome == "snooze" and job.attempt == 1 and len(seen[job.id]) == 1:
            return Snooze(0.1)
        if outcome == "record":
            return Record(job.args["value"])
        if outcome == "fail":
            raise ValueError(f"boom on attempt {job.attempt}")
        return None


@worker(queue="default", max_attempts=3)
class FailTwice:
    def backoff(self, job):
        return 0

    async def process(self, job):
        seen[job.id].append(job.attempt)
        if job.attempt < 3:
            raise RuntimeError(f"flaky {job.attempt}")


@worker(queue="default")
class Gated:
    """Runs until the test opens its gate (or it is cancelled cooperatively)."""

    async def process(self, job):
        seen[job.id].append("started")
        gate = gates.setdefault(job.id, asyncio.Event())
        while not gate.is_set():
            if job.cancelled():
                seen[job.id].append("saw-cancel")
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.wait(), 0.02)
        seen[job.id].append("finished")


@worker(queue="approvals")
class ApprovalWorker:
    """The seed example of the signals issue."""

    async def process(self, job):
        try:
            payload = await await_signal(
                wait_for=job.args.get("wait_for", timedelta(days=1)),
                wait_timeout=job.args.get("wait_timeout", 5.0),
            )
        except SignalTimeout:
            seen[job.id].append("timeout")
            return Cancel("no decision")
        seen[job.id].append(payload)
        if payload["decision"] == "approved":
            return Record({"charged": job.args["user_id"]})
        return Cancel(f"declined: {payload['decision']}")


@worker(queue="approvals")
class TwoStep:
    """Awaits twice; records every execution to show re-runs replay call 1."""

    async def process(self, job):
        seen[job.id].append("run")
        first = await await_signal(wait_timeout=job.args.get("wait_timeout", 0))
        seen[job.id].append(("first", first))
        second = await await_signal(wait_timeout=job.args.get("wait_timeout", 0))
        seen[job.id].append(("second", second))
        return Record([first, second])


@worker(queue="approvals")
class KeyedWaiter:
    async def process(self, job):
        payload = await await_signal(key=job.args["key"],
                                     wait_timeout=job.args.get("wait_timeout", 5.0),
                                     wait_for=job.args.get("wait_for"))
        seen[job.id].append(payload)
        return Record(payload)


@worker(queue="solo")
class SoloWaiter:
    async def process(self, job):
        seen[job.id].append("started")
        payload = await await_signal(wait_timeout=job.args.get("wait_timeout", 0.2))
        seen[job.id].append(payload)
        return Record(payload)


@worker(queue="solo")
class SoloQuick:
    async def process(self, job):
        seen[job.id].append("ran")


@worker(queue="approvals")
class AwaitThenFail:
    """Consumes a signal, then fails once: the retry must get the same payload."""

    async def process(self, job):
        payload = await await_signal(wait_timeout=5)
        seen[job.id].append(payload)
        if job.attempt == 1:
            raise RuntimeError("fail after consuming")
        return Record(payload)

    def backoff(self, job):
        return 0


@worker(queue="default")
class ChargeWorker:
    async def process(self, job):
        seen[job.id].append("charged")
        return Record({"charged": job.args.get("user_id")})


@worker(queue="approvals")
class Voter:
    async def process(self, job):
        vote = await await_signal(wait_timeout=job.args.get("wait_timeout", 0))
        return Record(vote)


@worker(queue="approvals")
class Shipper:
    """The order example: waits for "payment" and "shipping" by name, in any order."""

    async def process(self, job):
        seen[job.id].append("run")
        got = await await_signals(["payment", "shipping"],
                                  wait_timeout=job.args.get("wait_timeout", 0))
        seen[job.id].append(got)
        return Record(got)


@worker(queue="approvals")
class NamedInTurn:
    """Waits for the names of args["names"] one after the other (a name per call)."""

    async def process(self, job):
        got = []
        for name in job.args["names"]:
            got.append([name, await await_signal(name=name, wait_timeout=0)])
        return Record(got)


@worker(queue="approvals")
class FirstOf:
    async def process(self, job):
        found = await await_first(job.args["names"], wait_timeout=job.args.get("wait_timeout", 0))
        seen[job.id].append(found)
        return Record(list(found))


@worker(queue="approvals")
class Unnamed:
    async def process(self, job):
        return Record(await await_signal(wait_timeout=job.args.get("wait_timeout", 0)))


@worker(queue="approvals")
class Reviewer:
    """A workflow step that waits for the workflow-wide "approved" signal."""

    async def process(self, job):
        seen[job.id].append(await peek_signal("approved", scope="workflow"))
        decision = await await_signal(name="approved", scope="workflow",
                                      wait_timeout=job.args.get("wait_timeout", 0))
        seen[job.id].append(decision)
        return Record(decision)


@worker(queue="approvals")
class PeekThenWait:
    """Looks without waiting, then waits: peeking consumes nothing."""

    async def process(self, job):
        seen[job.id].append(await peek_signal("payment"))
        return Record(await await_signal(name="payment", wait_timeout=0))
