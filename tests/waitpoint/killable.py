"""A worker for the crash test: in the child process it hangs after consuming a signal,
so the test can SIGKILL it at exactly that point."""

import asyncio
import os

from waitpoint import Record, await_first, await_signal, worker


@worker(queue="crash")
class ConsumeThenHang:
    async def process(self, job):
        payload = await await_signal(wait_timeout=30)
        if os.environ.get("WAITPOINT_TEST_HANG") == "1":
            await asyncio.Event().wait()
        return Record(payload)


@worker(queue="crash")
class FirstOfThenHang:
    async def process(self, job):
        found = await await_first(["approved", "rejected"], wait_timeout=30)
        if os.environ.get("WAITPOINT_TEST_HANG") == "1":
            await asyncio.Event().wait()
        return Record(list(found))
